"""A coordinator creating, editing and cancelling an event, and whom a cancellation reaches."""
from __future__ import annotations

import secrets
from dataclasses import dataclass

from chalicelib import claims, clock, dynamo, keys
from chalicelib.errors import Conflict, ValidationError
from chalicelib.events import notices, places, rules, store
from chalicelib.events.forms import PAST_DATE
from chalicelib.observability import count
from chalicelib.wiring import Metric


def create(fields: dict, event_id: str | None = None) -> dict:
    """The new event; if `event_id` exists already (a repeated submission), that one, and nothing is created."""
    event_id = event_id or secrets.token_hex(6)
    now = clock.iso()
    capacity = fields["capacity"]
    item = {
        **keys.event(event_id), **keys.event_index(fields["starts_at"], event_id),
        "event_id": event_id, **{k: v for k, v in fields.items() if k != "capacity"},
        "limited": capacity is not None, "capacity": capacity or 0,
        "free": rules.free_for(capacity is not None, capacity or 0, fields["mode"], 0, 0),
        "held": 0, "confirmed": 0, "waiting": 0, "seq": 0, "version": 1,
        "status": "scheduled", "created_at": now, "updated_at": now,
    }
    if not store.put_new(item):
        return store.get_or_404(event_id)
    count(Metric.EVENTS_CREATED)
    return item


def update(event_id: str, fields: dict) -> tuple[dict, int]:
    """Edit an event; returns it and how many people were told of a changed time or place.

    New places go to the queue first. A date can only move into the future: a past date would tell
    everyone a time that has gone and make the event look finished."""
    for _ in range(store.MAX_ATTEMPTS):
        event = store.get_or_404(event_id)
        if event["status"] == "cancelled":
            raise Conflict("This event is cancelled and can no longer be edited.")
        if event.get("anonymised_at"):
            raise Conflict("This event has taken place and its attendees' details have been deleted. "
                           "Create a new event instead.")
        if (fields["starts_at"] and not rules.same_date(event, fields["starts_at"], fields["ends_at"])
                and clock.parse_iso(fields["starts_at"]) <= clock.now()):
            raise ValidationError({"date": PAST_DATE})
        capacity = fields["capacity"]
        limited = capacity is not None
        confirmed, held = int(event["confirmed"]), int(event["held"])
        if limited and capacity < confirmed + held:
            raise ValidationError({"capacity": f"{confirmed + held} places are already taken or offered. "
                                               "Enter at least that many, or cancel registrations first."})
        if not store.save_edit(event, fields, rules.free_for(limited, capacity or 0, fields["mode"], confirmed, held)):
            continue
        updated = store.get_or_404(event_id)
        moved = any(event.get(k, "") != updated.get(k, "") for k in ("starts_at", "ends_at", "venue", "online_url"))
        told = notices.notify_change(updated) if moved else 0
        places.offer_free_places(event_id)
        return store.get_or_404(event_id), told
    raise Conflict("The event changed while you were editing it. Please try again.")


@dataclass(frozen=True)
class Affected:
    """Who a cancellation reaches: the exact numbers its confirmation page shows."""

    confirmed: int
    waiting: int
    offered: int

    @property
    def total(self) -> int:
        return self.confirmed + self.waiting + self.offered


def affected(event_id: str) -> Affected:
    regs = store.registrations(event_id)
    return Affected(*(sum(r["status"] == s for r in regs) for s in ("confirmed", "waiting", "offered")))


def cancel_event(event_id: str, message: str = "") -> tuple[dict, Affected]:
    """Cancel, withdraw open offers, and tell everyone registered, offered or waiting, once each.

    Repeating it (a double click, or the retry a failed send asks for) emails only those not yet told."""
    store.get_or_404(event_id)
    store.mark_cancelled(event_id, message)  # or it was cancelled already: the rest is for those not yet told
    event = store.get_or_404(event_id)
    for reg in store.registrations(event_id):
        if reg["status"] == "offered":
            _withdraw_offer(event_id, reg)
    told = [r for r in store.registrations(event_id) if r["status"] in ("confirmed", "waiting", "withdrawn")
            and (r["status"] != "withdrawn" or r.get("withdrawn_by_cancellation"))]
    reached = Affected(*(sum(r["status"] == s for r in told) for s in ("confirmed", "waiting", "withdrawn")))
    notices.tell_each(event, told, claims.event_cancelled(event_id), "cancelled_event")
    for reg in store.registrations(event_id):  # nobody needs arrangements for an event that will not happen
        if "access_needs" in reg:
            store.forget_access_needs(event_id, reg["registration_id"])
    count(Metric.EVENTS_CANCELLED)
    return event, reached


def _withdraw_offer(event_id: str, reg: dict) -> None:
    try:
        dynamo.transact([
            store.event_change(event_id, {"held": -1}, "held > :zero", {":zero": 0}),
            store.registration_change(event_id, reg["registration_id"], "withdrawn",
                                      "#s = :o AND offer_expires_at = :exp",
                                      {":o": "offered", ":exp": reg["offer_expires_at"], ":yes": True},
                                      extra_set=", withdrawn_by_cancellation = :yes", remove="GSI2PK, GSI2SK"),
        ])
    except dynamo.TransactionFailed:
        return  # answered or withdrawn a moment ago
