"""Places and the waiting list: a request confirmed by email takes a place or joins the queue, a place
given back goes to the front of the queue as an offer (or back to the public), and offers are accepted,
declined, or made by a coordinator by hand.

A place counts only once the person confirms by email: the form stores a "pending" request and mails a
confirmation link, and only pressing its button takes a place or joins the queue. So the counts a
stranger can see never move because of an address they typed, and never tell them it was registered."""
from __future__ import annotations

import secrets

from chalicelib import clock, dynamo, forms, keys, ratelimit
from chalicelib.errors import Conflict, NotFound
from chalicelib.events import email_links, notices, rules, store
from chalicelib.events.forms import ACCESS_CONSENT_VERSION, Registration
from chalicelib.events.rules import Availability
from chalicelib.observability import count
from chalicelib.settings import get_settings
from chalicelib.wiring import Metric

_FULL = "This event is full and has no waiting list."


def _open_to(event_id: str, person: Registration, client: str) -> tuple[dict, str]:
    """The event, if it takes this person's registration now, and their registration id; else the error."""
    if client:  # one machine registering many addresses would be mailing strangers
        ratelimit.enforce("event-register-client", client, get_settings().event_registrations_per_client_per_hour)
    event = store.get_or_404(event_id)
    rules.ensure_open(event)
    if rules.availability_of(event) is Availability.FULL:
        raise Conflict(_FULL)
    return event, store.registration_id(event_id, person.email)


def request_registration(event_id: str, person: Registration, client: str = "") -> None:
    """What the public form does: keep the request as "pending" and email the address a link to confirm it.

    Nothing counts until the confirmation, so nothing a stranger can see moves, and the caller always
    shows the same page: whether this address was already registered is only ever told to the address."""
    event, rid = _open_to(event_id, person, client)
    existing = store.get_registration(event_id, rid)
    if existing and existing["status"] in rules.ACTIVE:
        notices.already_registered(event, existing)
        return
    now = clock.now()
    keep = existing and existing["status"] == rules.PENDING and int(existing.get("expires_at", 0)) > clock.epoch()
    item = {
        **keys.registration(event_id, rid), "registration_id": rid, "event_id": event_id, "status": rules.PENDING,
        "name": person.name, "email": person.email, "created_at": clock.iso(now), "updated_at": clock.iso(now),
        "request_nonce": existing["request_nonce"] if keep else secrets.token_urlsafe(12),
        # DynamoDB's TTL deletes what nobody confirms
        "expires_at": clock.epoch() + rules.PENDING_HOURS * 3600 + 3600,
    }
    if person.access_needs:
        item["access_needs"] = person.access_needs
    if not store.put_request(item):
        reg = store.get_registration(event_id, rid)  # confirmed a moment ago
        if reg and reg["status"] in rules.ACTIVE:
            notices.already_registered(event, reg)
        return
    count(Metric.EVENT_REGISTRATION_REQUESTS)
    # a flood of repeats sends a few
    if ratelimit.allow("event-request", f"{event_id}#{forms.address_key(person.email)}", 3):
        notices.send(event, item, "request")


def confirm_registration(token: str) -> tuple[dict, dict]:
    """The press of the email's button: the request takes a place, or joins the waiting list, now."""
    event, reg = email_links.from_confirm_token(token)
    if reg["status"] != rules.PENDING:
        return event, reg  # a second press, or confirmed already: nothing twice
    person = Registration(reg["name"], reg["email"], reg.get("access_needs", ""), bool(reg.get("access_needs")))
    return event, register(event["event_id"], person, request_nonce=reg["request_nonce"])


def register(event_id: str, person: Registration, client: str = "", *, request_nonce: str = "") -> dict:
    """Confirm a place if one is free to the public, else join the waiting list (if it has one).

    With `request_nonce`, only the pending request carrying it becomes the registration."""
    event, rid = _open_to(event_id, person, client)
    arrival = store.next_arrival(event_id)
    for attempt in range(store.MAX_ATTEMPTS):
        event = store.get_or_404(event_id)
        rules.ensure_open(event)
        new_status, ops = _registration_attempt(event, rid, arrival, person, request_nonce)
        try:
            dynamo.transact(ops)
        except dynamo.TransactionFailed as refused:
            if store.REGISTRATION in refused.failed:
                reg = store.get_registration(event_id, rid)
                if reg and reg["status"] in rules.ACTIVE:
                    if not request_nonce:
                        notices.already_registered(event, reg)
                    return reg
                if request_nonce:
                    raise NotFound(email_links.REQUEST_GONE) from None
            if store.EVENT in refused.failed and new_status == "waiting" and not event.get("waiting_list", True):
                raise Conflict(_FULL) from None
            store.pause(attempt)
            continue
        reg = store.get_registration(event_id, rid)
        count(Metric.EVENT_REGISTRATIONS if new_status == "confirmed" else Metric.EVENT_WAITING_LIST_JOINS)
        notices.send(event, reg, "confirmed" if new_status == "confirmed" else "waiting")
        return reg
    raise Conflict("Many people are registering at once. Please try again in a moment.")


def _registration_attempt(event: dict, rid: str, arrival: int, person: Registration,
                          request_nonce: str = "") -> tuple[str, list[dynamo.Op]]:
    """A place if the public may take one now, else the queue: the new status and the transaction."""
    event_id, now = event["event_id"], clock.iso()
    scheduled = {":scheduled": "scheduled", ":open": "open", ":zero": 0, ":true": True}
    left = rules.places_left(event)
    take_place = event["mode"] == "open" and (left is None or left > 0)
    if take_place and event.get("limited"):
        change = store.event_change(event_id, {"free": -1, "confirmed": 1},
                                    "#s = :scheduled AND mode = :open AND limited = :true AND free > :zero "
                                    "AND waiting = :zero", scheduled)
    elif take_place:
        change = store.event_change(event_id, {"confirmed": 1},
                                    "#s = :scheduled AND mode = :open AND limited = :false",
                                    {":scheduled": "scheduled", ":open": "open", ":false": False})
    else:
        change = store.event_change(event_id, {"waiting": 1},
                                    "#s = :scheduled AND waiting_list = :true AND "
                                    "(mode = :waitlist OR (mode = :open AND limited = :true AND "
                                    "(free <= :zero OR waiting > :zero)))",
                                    {**scheduled, ":waitlist": "waitlist"})
    new_status = "confirmed" if take_place else "waiting"
    item = {
        **keys.registration(event_id, rid), "registration_id": rid, "event_id": event_id,
        "name": person.name, "email": person.email, "status": new_status, "arrival": arrival,
        "created_at": now, "updated_at": now, "history": [{"status": new_status, "at": now}],
    }
    if person.access_needs:
        item.update(access_needs=person.access_needs, access_consent={
            "wording_version": ACCESS_CONSENT_VERSION, "given_at": now})
    if new_status == "confirmed":
        item["confirmed_at"] = now
    else:
        item.update(keys.queue_index(event_id, arrival))
    if request_nonce:
        item["request_nonce"] = request_nonce
    return new_status, [change, store.new_registration(item, request_nonce)]


# ---------------------------------------------------------------- places coming free

def release(event_id: str, leaving: dynamo.Op, base: dict[str, int]) -> bool:
    """Someone gives up a place (`leaving` changes their registration; `base` their counter change).

    In the same transaction the place goes to the next person in the queue as an offer, or back to
    the public if nobody is waiting. False if `leaving`'s own condition failed (already done)."""
    for attempt in range(store.MAX_ATTEMPTS):
        event = store.get_or_404(event_id)
        add, ops, offered = dict(base), [leaving], None
        values = {":v": event["version"], ":zero": 0}
        condition = "version = :v"
        automatic = rules.offers_automatically(event)
        nxt = store.next_waiting(event_id) if automatic and int(event["waiting"]) > 0 else None
        if nxt:
            add["held"] = add.get("held", 0) + 1
            add["waiting"] = -1
            condition += " AND waiting > :zero"
            ops.append(store.offer_change(event, nxt))
            offered = nxt
        elif automatic and event.get("limited"):
            add["free"] = 1
            condition += " AND waiting = :zero"
        elif event.get("limited") and event["mode"] == "open":
            add["free"] = 1
        ops.insert(0, store.event_change(event_id, add, condition, values))
        try:
            dynamo.transact(ops)
        except dynamo.TransactionFailed as refused:
            if store.REGISTRATION in refused.failed:
                return False
            store.pause(attempt)
            continue
        if offered:
            notices.send_offer(event_id, offered["registration_id"])
        return True
    raise Conflict("Many people are changing their registrations at once. Please try again in a moment.")


def offer_free_places(event_id: str) -> int:
    """Offer every place the public could take to the people waiting, first come first served."""
    offered = 0
    for attempt in range(10_000):
        event = store.get_or_404(event_id)
        if not rules.offers_automatically(event) or int(event["waiting"]) <= 0:
            return offered
        if event.get("limited") and int(event["free"]) <= 0:
            return offered
        nxt = store.next_waiting(event_id)
        if not nxt:
            return offered
        add = {"held": 1, "waiting": -1}
        condition = "version = :v AND waiting > :zero"
        if event.get("limited"):
            add["free"] = -1
            condition += " AND free > :zero"
        try:
            dynamo.transact([store.event_change(event_id, add, condition, {":v": event["version"], ":zero": 0}),
                            store.offer_change(event, nxt)])
        except dynamo.TransactionFailed:
            store.pause(min(attempt, 20))
            continue
        notices.send_offer(event_id, nxt["registration_id"])
        offered += 1
    return offered


# ---------------------------------------------------------------- attendees' answers

def give_back(token: str) -> tuple[dict, dict]:
    """Cancel a place, leave the waiting list, or decline an offer: whichever this person has now."""
    event, reg = email_links.from_manage_token(token)
    rid, event_id = reg["registration_id"], event["event_id"]
    if reg["status"] == "confirmed":
        if release(event_id, store.registration_change(event_id, rid, "cancelled", "#s = :c", {":c": "confirmed"}),
                   {"confirmed": -1}):
            count(Metric.EVENT_CANCELLATIONS)
            notices.send(event, store.get_registration(event_id, rid), "gave_back")
    elif reg["status"] == "waiting":
        _leave_queue(event_id, rid)
    elif reg["status"] == "offered":
        end_offer(event_id, reg, "declined")
    return event, store.get_registration(event_id, rid)


def _leave_queue(event_id: str, rid: str) -> None:
    try:
        dynamo.transact([
            store.event_change(event_id, {"waiting": -1}, "waiting > :zero", {":zero": 0}),
            store.registration_change(event_id, rid, "left", "#s = :w", {":w": "waiting"}, remove="GSI2PK, GSI2SK"),
        ])
    except dynamo.TransactionFailed:
        return  # already left (a double click)
    count(Metric.EVENT_WAITING_LIST_LEAVES)
    event = store.get_or_404(event_id)
    notices.send(event, store.get_registration(event_id, rid), "left")


def end_offer(event_id: str, reg: dict, outcome: str) -> bool:
    """An open offer is declined or has expired (`outcome`); its place goes on. False if already ended."""
    condition = "#s = :o AND offer_expires_at = :exp"
    values = {":o": "offered", ":exp": reg["offer_expires_at"]}
    if outcome == "expired":
        condition += " AND offer_expires_at <= :now"
        values[":now"] = clock.iso()
    leaving = store.registration_change(event_id, reg["registration_id"], outcome, condition, values,
                                        remove="GSI2PK, GSI2SK")
    done = release(event_id, leaving, {"held": -1})
    event = store.get_or_404(event_id)
    if done and rules.status(event) == "scheduled":  # after a cancellation the attendee has been told already
        count(Metric.EVENT_OFFERS_DECLINED if outcome == "declined" else Metric.EVENT_OFFERS_EXPIRED)
        notices.send(event, store.get_registration(event_id, reg["registration_id"]),
                     "offer_expired" if outcome == "expired" else "left")
    return done


def accept_offer(token: str) -> tuple[dict, dict, str]:
    event, reg, state = email_links.from_offer_token(token)
    if state == "expired" and reg["status"] == "offered":
        end_offer(event["event_id"], reg, "expired")  # pass it on now rather than at the next sweep
        return event, store.get_registration(event["event_id"], reg["registration_id"]), "expired"
    if state != "open":
        return event, reg, state
    event_id, rid = event["event_id"], reg["registration_id"]
    try:
        dynamo.transact([
            store.event_change(event_id, {"held": -1, "confirmed": 1}, "#s = :scheduled AND held > :zero",
                               {":zero": 0, ":scheduled": "scheduled"}),
            store.registration_change(
                event_id, rid, "confirmed", "#s = :o AND offer_expires_at = :exp AND :now < offer_expires_at",
                {":o": "offered", ":exp": reg["offer_expires_at"], ":now": clock.iso()},
                extra_set=", confirmed_at = :now, accepted_offer = :exp", remove="GSI2PK, GSI2SK"),
        ])
    except dynamo.TransactionFailed:
        return email_links.from_offer_token(token)
    count(Metric.EVENT_OFFERS_ACCEPTED)
    reg = store.get_registration(event_id, rid)
    notices.send(event, reg, "confirmed")
    return event, reg, "accepted"


def decline_offer(token: str) -> tuple[dict, dict, str]:
    event, reg, state = email_links.from_offer_token(token)
    if state in ("open", "closed"):
        end_offer(event["event_id"], reg, "declined")
        return event, store.get_registration(event["event_id"], reg["registration_id"]), "declined"
    if state == "expired" and reg["status"] == "offered":
        end_offer(event["event_id"], reg, "expired")
    return event, reg, state


def offer_by_hand(event_id: str, rid: str) -> dict:
    """A coordinator offers a place to one person on the waiting list, whatever their position.

    With a limit on an open event it takes a free place; otherwise the coordinator's judgement adds one."""
    event = store.get_or_404(event_id)
    if rules.status(event) != "scheduled":
        raise Conflict("This event is not taking registrations.")
    reg = store.get_registration(event_id, rid)
    if not reg or reg["status"] != "waiting":
        raise Conflict("This person is no longer on the waiting list.")
    add, condition = {"held": 1, "waiting": -1}, "#s = :scheduled AND waiting > :zero"
    values = {":scheduled": "scheduled", ":zero": 0}
    if event.get("limited") and event["mode"] == "open":
        add["free"] = -1
        condition += " AND free > :zero"
    try:
        dynamo.transact([store.event_change(event_id, add, condition, values), store.offer_change(event, reg)])
    except dynamo.TransactionFailed as refused:
        if store.EVENT in refused.failed:
            raise Conflict("There is no free place to offer. Raise the number of places first, "
                           "and the queue is offered the new places in order.") from None
        raise Conflict("This person is no longer on the waiting list.") from None
    notices.send_offer(event_id, rid)
    return store.get_registration(event_id, rid)
