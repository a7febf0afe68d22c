"""Send-once claims: a conditional write per (purpose, recipient), so retries never send twice.

`once` is the claim, send, release pattern in one place:

    with claims.once(purpose, recipient_id) as first:
        if first:
            send()

A send that raises gives its claim back, so a retry can send it; a send that returns keeps it.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Protocol

from chalicelib import clock, dynamo, keys


class ClaimStore(Protocol):
    def claim(self, purpose: str, recipient_id: str, **attributes) -> bool: ...

    def release(self, purpose: str, recipient_id: str) -> None: ...


class DynamoClaimStore:
    """Claims as items of the table, written only if new."""

    def claim(self, purpose: str, recipient_id: str, **attributes) -> bool:
        return dynamo.put_if_new({**keys.send_claim(purpose, recipient_id), "claimed_at": clock.iso(), **attributes})

    def release(self, purpose: str, recipient_id: str) -> None:
        from chalicelib import aws

        aws.table().delete_item(Key=keys.send_claim(purpose, recipient_id))


def claim(purpose: str, recipient_id: str, store: ClaimStore | None = None, **attributes) -> bool:
    """True for the first caller only; every later or concurrent caller gets False."""
    return (store or DynamoClaimStore()).claim(purpose, recipient_id, **attributes)


def release(purpose: str, recipient_id: str, store: ClaimStore | None = None) -> None:
    """Give a claim back when the send it guarded failed before anything left PeerPost."""
    (store or DynamoClaimStore()).release(purpose, recipient_id)


# ---------------------------------------------------------------- purposes
# Every claim's purpose, built here only. A purpose names one message to one person: a changed
# spelling would read as a new message, and everyone would get it again.

SAFEGUARDING_ALERT = "story-safeguarding"
SAFEGUARDING_SECOND_ALERT = "story-safeguarding-second"


def event_offer(offer_expires_at: str) -> str:
    """One email per offer of a place (a new offer has a new expiry)."""
    return f"event-offer#{offer_expires_at}"


def event_reminder(event_id: str, starts_at: str) -> str:
    """One reminder per event and start time (a moved event reminds again)."""
    return f"event-reminder#{event_id}#{starts_at}"


def event_change(event_id: str, version) -> str:
    return f"event-change#{event_id}#{version}"


def event_cancelled(event_id: str) -> str:
    return f"event-cancelled#{event_id}"


@contextmanager
def once(purpose: str, recipient_id: str, store: ClaimStore | None = None, **attributes) -> Iterator[bool]:
    """Yields whether this caller holds the claim; an exception inside gives a held claim back."""
    store = store or DynamoClaimStore()
    first = store.claim(purpose, recipient_id, **attributes)
    try:
        yield first
    except Exception:  # not an interrupt: the message may have left, and a retry would send it twice
        if first:
            store.release(purpose, recipient_id)
        raise
