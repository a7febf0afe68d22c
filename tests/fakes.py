"""In-memory stand-ins for the simple repositories, so a service rule is tested without moto in
milliseconds. Each one passes the same contract test as the real repository (tests/contracts)."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Iterator

from chalicelib.audit import Entry
from chalicelib.ratelimit import FailureRun


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


class FakeClock:
    """A clock that stands still until a test moves it: pass it wherever a service takes `now`."""

    def __init__(self, start: datetime = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)):
        self.moment = start

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, seconds: float) -> None:
        self.moment += timedelta(seconds=seconds)


class FakeRateLimitStore:
    """ratelimit.RateLimitStore in two dicts: hits per (scope, subject, window) and failure runs."""

    def __init__(self):
        self.hits: dict[tuple[str, str, int], int] = {}
        self.runs: dict[tuple[str, str], FailureRun] = {}

    def count(self, scope: str, subject: str, window: int, limit: int, expires_at: int) -> bool:
        key = (scope, subject, window)
        if key in self.hits and self.hits[key] >= limit:
            return False
        self.hits[key] = self.hits.get(key, 0) + 1
        return True

    def uncount(self, scope: str, subject: str, window: int) -> None:
        key = (scope, subject, window)
        if self.hits.get(key, 0) > 0:
            self.hits[key] -= 1

    def run(self, scope: str, subject: str) -> FailureRun | None:
        return self.runs.get((scope, subject))

    def set_run(self, scope: str, subject: str, run: FailureRun) -> None:
        self.runs[(scope, subject)] = run

    def clear_run(self, scope: str, subject: str) -> None:
        self.runs.pop((scope, subject), None)


class FakeAuditStore:
    """audit.AuditStore as a list, appended to and never changed, read a month at a time as the table is."""

    def __init__(self):
        self.appended: list[tuple[Entry, int]] = []

    def add(self, entry: Entry, expires_at: int) -> None:
        self.appended.append((entry, expires_at))

    def in_month(self, month: str, start: date, end: date, who_id: str = "", action: str = "") -> Iterator[Entry]:
        found = [entry for entry, _ in self.appended
                 if entry.at[:7] == month and start.isoformat() <= entry.at[:10] <= end.isoformat()
                 and (not who_id or entry.who_id == who_id) and (not action or entry.action == action)]
        yield from sorted(found, key=lambda entry: entry.at, reverse=True)


class FakeSuppressionStore:
    """suppressions.SuppressionStore in a dict of records by address id, listed newest first as GSI1 lists them."""

    def __init__(self):
        self.records: dict[str, dict] = {}

    def get(self, sid: str) -> dict | None:
        return dict(self.records[sid]) if sid in self.records else None

    def put(self, sid: str, reason: str, at: str, **details: str) -> None:
        self.records[sid] = {"reason": reason, "at": at, **details}

    def delete(self, sid: str) -> None:
        self.records.pop(sid, None)

    def delete_if(self, sid: str, reasons: tuple[str, ...]) -> dict | None:
        if self.records.get(sid, {}).get("reason") not in reasons:
            return None
        return self.records.pop(sid)

    def newest(self, limit: int, cursor: dict | None = None) -> tuple[list[tuple[str, dict]], dict | None]:
        ordered = sorted(self.records.items(), key=lambda pair: (pair[1]["at"], pair[0]), reverse=True)
        if cursor:
            ordered = [pair for pair in ordered if (pair[1]["at"], pair[0]) < (cursor["at"], cursor["sid"])]
        page = [(sid, dict(record)) for sid, record in ordered[:limit]]
        more = len(ordered) > limit
        return page, {"at": page[-1][1]["at"], "sid": page[-1][0]} if more else None
