"""In-memory stand-ins for the simple repositories, so a service rule is tested without moto in
milliseconds. Each one passes the same contract test as the real repository (tests/contracts)."""
from __future__ import annotations


class FakeClaimStore:
    """claims.ClaimStore in a dict: the first claim of a (purpose, recipient) wins until released."""

    def __init__(self):
        self.held: dict[tuple[str, str], dict] = {}

    def claim(self, purpose: str, recipient_id: str, **attributes) -> bool:
        if (purpose, recipient_id) in self.held:
            return False
        self.held[(purpose, recipient_id)] = dict(attributes)
        return True

    def release(self, purpose: str, recipient_id: str) -> None:
        self.held.pop((purpose, recipient_id), None)
