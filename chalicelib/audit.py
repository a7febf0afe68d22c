"""The audit trail: who did what to which record, and when, for every coordinator action.

Append-only. PeerPost has no code that edits or deletes an entry, and the deployed functions' IAM
policy denies UpdateItem and DeleteItem on the audit partitions (infra/resources.yaml). Entries expire
by DynamoDB TTL after `audit_retention_days` (six years by default; docs/team.md).

An entry holds ids, never story text or an address: `who` is the coordinator's id and display name,
`record` the ids in the route's path (an issue, a story, a subscriber's id) or the one a view names
with about(). chalicelib.web.route writes one for every coordinator POST that succeeds, for the GETs
that hand data out (exports, a contributor's contact details), and for every refusal for want of a
role; sign-in writes its own.
"""
from __future__ import annotations

import contextvars
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Callable, Iterator, Protocol

from chalicelib import aws, clock, dynamo, keys
from chalicelib.settings import get_settings

_ABOUT: contextvars.ContextVar[dict | None] = contextvars.ContextVar("audit_about", default=None)

DONE = "done"
REFUSED = "refused"
FAILED = "failed"


@dataclass(frozen=True)
class Entry:
    at: str
    who_id: str
    who_name: str
    action: str
    record: str
    outcome: str
    detail: str

    @property
    def action_words(self) -> str:
        return words(self.action)


class AuditStore(Protocol):
    def add(self, entry: Entry, expires_at: int) -> None: ...

    def in_month(self, month: str, start: date, end: date, who_id: str = "", action: str = "") -> Iterator[Entry]: ...


class DynamoAuditStore:
    """Entries as items of one partition a month, sorted by time: a month's days are one range query."""

    def add(self, entry: Entry, expires_at: int) -> None:
        aws.table().put_item(
            Item={
                **keys.audit_entry(entry.at[:7], entry.at, secrets.token_hex(4)),
                "at": entry.at,
                "who_id": entry.who_id,
                "who_name": entry.who_name,
                "action": entry.action,
                "record": entry.record,
                "outcome": entry.outcome,
                "detail": entry.detail,
                "expires_at": expires_at,
            },
            ConditionExpression="attribute_not_exists(PK)",  # appended, never overwritten
        )

    def in_month(self, month: str, start: date, end: date, who_id: str = "", action: str = "") -> Iterator[Entry]:
        """The month's entries from `start` to `end` (whole days), newest first."""
        from boto3.dynamodb.conditions import Attr, Key

        low, high = start.isoformat(), (end + timedelta(days=1)).isoformat()
        condition = None
        if who_id:
            condition = Attr("who_id").eq(who_id)
        if action:
            condition = Attr("action").eq(action) if condition is None else condition & Attr("action").eq(action)
        query = {"KeyConditionExpression": Key("PK").eq(keys.audit_month(month)) & Key("SK").between(low, high),
                 "ScanIndexForward": False}
        if condition is not None:
            query["FilterExpression"] = condition
        for item in dynamo.query_items(**query):
            yield Entry(at=item["at"], who_id=item["who_id"], who_name=item["who_name"], action=item["action"],
                        record=item.get("record", ""), outcome=item["outcome"], detail=item.get("detail", ""))


def words(action: str) -> str:
    """An action's name as people read it: "send_issue" -> "send issue"."""
    return action.replace("_", " ").replace(".", ": ")


def begin() -> None:
    """A request starts: nothing named yet."""
    _ABOUT.set(None)


def about(kind: str, record_id: str) -> None:
    """Name the record this request made (a new issue, an invitation): the entry the route writes says it."""
    _ABOUT.set({kind: record_id})


def named() -> dict | None:
    return _ABOUT.get()


def _record_text(record: dict | None) -> str:
    if not record:
        return ""
    # Ids only: a value holding "@" or a space is not one of ours, and is left out rather than kept.
    return " ".join(f"{kind}={value}" for kind, value in sorted(record.items())
                    if value and "@" not in str(value) and " " not in str(value))


def append(action: str, *, who_id: str, who_name: str, record: dict | None = None,
           outcome: str = DONE, detail: str = "", store: AuditStore | None = None,
           now: Callable[[], datetime] | None = None) -> None:
    """Append one entry. `detail` is a fixed phrase of ours (a role's name, a reason code), never input."""
    moment = (now or clock.now)()
    entry = Entry(at=clock.iso(moment), who_id=who_id or "unknown", who_name=who_name or "unknown", action=action,
                  record=_record_text(record), outcome=outcome, detail=detail)
    retention = get_settings().audit_retention_days
    (store or DynamoAuditStore()).add(entry, expires_at=clock.epoch(moment) + retention * 86400)


def by(coordinator, action: str, record: dict | None = None, outcome: str = DONE, detail: str = "",
       store: AuditStore | None = None) -> None:
    """An entry for what this signed-in coordinator did (with the record a view named, if it did)."""
    append(action, who_id=coordinator.id, who_name=coordinator.name, record={**(record or {}), **(named() or {})},
           outcome=outcome, detail=detail, store=store)


def _months(start: date, end: date) -> list[str]:
    months, cursor = [], date(end.year, end.month, 1)
    while cursor >= date(start.year, start.month, 1):
        months.append(cursor.isoformat()[:7])
        cursor = (cursor - timedelta(days=1)).replace(day=1)
    return months


def entries(start: date, end: date, who_id: str = "", action: str = "",
            store: AuditStore | None = None) -> Iterator[Entry]:
    """Entries from `start` to `end` (whole days, UTC), newest first, optionally one person's or one action's."""
    store = store or DynamoAuditStore()
    for month in _months(start, end):
        yield from store.in_month(month, start, end, who_id, action)


def as_csv(rows) -> str:
    from chalicelib import spreadsheet

    return spreadsheet.write(["at", "who_id", "who", "action", "record", "outcome", "detail"], (
        [entry.at, entry.who_id, entry.who_name, entry.action, entry.record, entry.outcome, entry.detail]
        for entry in rows))
