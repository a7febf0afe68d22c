"""Events: "Dates for the diary", registration, a first-come-first-served waiting list with offers,
reminders, change and cancellation notices, and anonymisation after the event.

Capacity lives on the event item as counters (free, held, confirmed, waiting) that only ever move
inside DynamoDB transactions whose conditions re-check what the decision was based on. Reads only
choose which transaction to attempt; a stale read makes the transaction fail and we try again.
  free      places anyone may take now (only while nobody is waiting)
  held      places offered to someone on the waiting list, not yet accepted
  confirmed places taken
  waiting   people in the queue (GSI2 partition QUEUE#<event>, in arrival order)
  seq       the arrival counter: every registration attempt takes the next number first

A place counts only once the person confirms by email: the form stores a "pending" request and mails a
confirmation link, and only pressing its button takes a place or joins the queue. So the counts a
stranger can see never move because of an address they typed, and never tell them it was registered.
"""
from __future__ import annotations

import csv
import enum
import io
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from chalicelib import aws, dynamo, claims, clock, emails, keys, ratelimit, tokens
from chalicelib.errors import Conflict, InvalidToken, NotFound, ValidationError
from chalicelib.forms import clean_line, clean_text, strip_controls
from chalicelib.models import Field, Model
from chalicelib.observability import count, logger
from chalicelib.wiring import Metric
from chalicelib.signing_secret import keyed_hash
from chalicelib.settings import get_settings

MODES = {
    "open": "Open registration",
    "waitlist": "Waiting list only (for example, training with no date yet)",
    "contact": "Contact the coordinator",
}
STATUSES = ("scheduled", "cancelled", "past")
ACTIVE = ("confirmed", "offered", "waiting")
ENDED = ("cancelled", "left", "declined", "expired", "withdrawn")
PENDING = "pending"   # asked for by the form, not yet confirmed from the email: counts for nothing
PENDING_HOURS = 48
ACCESS_CONSENT_VERSION = "access-needs-2026-11"
ACCESS_CONSENT_WORDING = (
    "I agree that PeerPost may keep what I write about my access needs, which may be about my health, "
    "so the organisers can make arrangements for me. Only the coordinators see it, and it is deleted "
    "after the event."
)
MAX_ATTEMPTS = 25
MAX_TITLE, MAX_TEXT, MAX_NAME, MAX_NEEDS, MAX_MESSAGE = 150, 300, 80, 1000, 1000


@dataclass(frozen=True)
class DiaryEntry:
    event_id: str
    title: str
    audience: str          # who it is for
    when: str              # e.g. "Wednesday 8 June 2027, 2pm to 3:30pm" in Europe/London, or "To be confirmed"
    where: str             # venue name/address, or "Online" (never the private online link)
    how_to_register: str   # e.g. "Reserve a place", "Join the waiting list", "Contact the coordinator"
    url: str               # absolute public URL of the event's page (settings.public_base_url + path)
    availability: str      # e.g. "3 places left", "Waiting list open", "Full"


@dataclass(frozen=True)
class Registration:
    name: str
    email: str
    access_needs: str
    access_consent: bool


class _Cancelled(Exception):
    """A transaction was refused; `failed` holds the indexes of the items whose condition failed."""

    def __init__(self, failed: list[int]) -> None:
        super().__init__(failed)
        self.failed = failed


# ---------------------------------------------------------------- reading and describing events

def get(event_id: str) -> dict | None:
    if not event_id or len(event_id) > 64:
        return None
    return aws.table().get_item(Key=keys.event(event_id), ConsistentRead=True).get("Item")


def get_or_404(event_id: str) -> dict:
    event = get(event_id)
    if not event:
        raise NotFound("We could not find that event. It may have been removed; see Dates for the diary.")
    return event


def status(event: dict) -> str:
    if event["status"] == "cancelled":
        return "cancelled"
    if event.get("ends_at") and clock.parse_iso(event["ends_at"]) <= clock.now():
        return "past"
    return "scheduled"


def has_started(event: dict) -> bool:
    return bool(event.get("starts_at")) and clock.parse_iso(event["starts_at"]) <= clock.now()


def when(event: dict) -> str:
    """Written as every page and email writes a time: the `london` filter, the end's day only if it differs."""
    from chalicelib.rendering import environment

    if not event.get("starts_at"):
        return "To be confirmed"
    london = environment().filters["london"]
    start, end = clock.in_london(event["starts_at"]), clock.in_london(event["ends_at"])
    if end.date() == start.date():
        return f"{london(start)} to {london(end, '%-I:%M%p')}"
    return f"{london(start)} to {london(end)}"


def where(event: dict) -> str:
    return event.get("venue") or ("Online" if event.get("online_url") else "To be confirmed")


def public_url(event_id: str) -> str:
    return f"{get_settings().public_base_url}/events/{event_id}"


def places_left(event: dict) -> int | None:
    """Places the public can take now; None when there is no limit."""
    if not event.get("limited"):
        return None
    return int(event["free"]) if int(event["waiting"]) == 0 else 0


class Availability(enum.Enum):
    """What someone arriving at an event can do now. Rules use this; labels are derived from it."""

    CANCELLED = "cancelled"
    FINISHED = "finished"
    STARTED = "started"
    CONTACT = "contact"
    PLACES = "places"
    WAITING_LIST = "waiting-list"
    FULL = "full"


OPEN = (Availability.PLACES, Availability.WAITING_LIST)
_ACTIONS = {Availability.CONTACT: "Contact the coordinator", Availability.PLACES: "Reserve a place",
            Availability.WAITING_LIST: "Join the waiting list", Availability.FULL: "Full"}
_LABELS = {Availability.CANCELLED: "Cancelled", Availability.FINISHED: "This event has finished",
           Availability.STARTED: "Registration is closed", Availability.CONTACT: "Contact the coordinator",
           Availability.WAITING_LIST: "Waiting list open", Availability.FULL: "Full"}


def availability_of(event: dict) -> Availability:
    state = status(event)
    if state == "cancelled":
        return Availability.CANCELLED
    if state == "past":
        return Availability.FINISHED
    if has_started(event):
        return Availability.STARTED
    if event["mode"] == "contact":
        return Availability.CONTACT
    if event["mode"] == "waitlist":
        return Availability.WAITING_LIST
    left = places_left(event)
    if left is None or left > 0:
        return Availability.PLACES
    return Availability.WAITING_LIST if event.get("waiting_list", True) else Availability.FULL


def availability(event: dict) -> str:
    found = availability_of(event)
    if found is Availability.PLACES:
        left = places_left(event)
        return "Places available" if left is None else f"{left} place{'s' if left != 1 else ''} left"
    return _LABELS[found]


def how_to_register(event: dict) -> str:
    return _ACTIONS.get(availability_of(event), "Registration is closed")


def can_register(event: dict) -> bool:
    return availability_of(event) in OPEN


def _entry(event: dict) -> DiaryEntry:
    return DiaryEntry(
        event_id=event["event_id"], title=event["title"], audience=event["audience"], when=when(event),
        where=where(event), how_to_register=how_to_register(event), url=public_url(event["event_id"]),
        availability=availability(event),
    )


def _query_events(**condition) -> list[dict]:
    from boto3.dynamodb.conditions import Key

    key = Key("GSI1PK").eq(keys.events_index())
    if "after" in condition:
        key = key & Key("GSI1SK").gte(condition["after"])
    if "before" in condition:
        key = key & Key("GSI1SK").lt(condition["before"])
    if "between" in condition:
        key = key & Key("GSI1SK").between(*condition["between"])
    return list(dynamo.query_items(IndexName="GSI1", KeyConditionExpression=key))


def upcoming() -> list[dict]:
    """Scheduled events that have not started, soonest first, undated ("to be confirmed") last."""
    return [e for e in _query_events(after=clock.iso()) if status(e) == "scheduled"]


def diary(limit: int = 20) -> list[DiaryEntry]:
    """Upcoming scheduled events, soonest first, TBC last: what the newsletter's diary section shows."""
    return [_entry(e) for e in upcoming()[:limit]]


def all_events() -> list[dict]:
    return _query_events()


# ---------------------------------------------------------------- coordinator: create and edit

EVENT_MODEL = Model("Event", (
    Field("title", required=True, max_length=MAX_TITLE),
    Field("audience", required=True, max_length=MAX_TEXT, description="Who the event is for"),
    Field("venue", max_length=MAX_TEXT),
    Field("contact", max_length=MAX_TEXT, description="How to reach the coordinator (mode 'contact')"),
    Field("online_url", max_length=500, format="uri", description="Shown only to confirmed attendees"),
    Field("tbc", max_length=5, description="'yes' when the date is to be confirmed"),
    Field("date", max_length=10, format="date", description="Europe/London date, YYYY-MM-DD"),
    Field("start_time", max_length=5, description="Europe/London time, HH:MM"),
    Field("end_time", max_length=5, description="Europe/London time, HH:MM"),
    Field("capacity", max_length=5, description="Number of places, 1 to 10000; empty for no limit"),
    Field("mode", enum=tuple(MODES)),
    Field("waiting_list", max_length=5, description="'yes' to keep a waiting list when full"),
))


def parse_event(data: dict, current: dict | None = None) -> dict:
    """Form fields to event attributes; raises ValidationError with a message per field.

    A date in the past is refused, unless it is the date `current` (the event being edited) already has."""
    errors: dict[str, str] = {}
    text = {k: clean_line(data.get(k)) for k in ("title", "audience", "venue", "contact")}
    online_url = str(data.get("online_url", "")).strip()
    if not text["title"]:
        errors["title"] = "Enter a title."
    if not text["audience"]:
        errors["audience"] = "Say who the event is for."
    for name, limit in (("title", MAX_TITLE), ("audience", MAX_TEXT), ("venue", MAX_TEXT), ("contact", MAX_TEXT)):
        if len(text[name]) > limit:
            errors[name] = f"Use at most {limit} characters."
    if online_url and not (online_url.startswith("https://") and len(online_url) < 500 and " " not in online_url):
        errors["online_url"] = "Enter the full online link, starting with https://"
    tbc = str(data.get("tbc", "")).lower() in {"yes", "on", "true", "1"}
    starts_at = ends_at = ""
    if not tbc:
        day, start, end = (str(data.get(k, "")).strip() for k in ("date", "start_time", "end_time"))
        try:
            datetime.fromisoformat(f"{day}T{start}")
            datetime.fromisoformat(f"{day}T{end}")
        except ValueError:
            errors["date"] = "Enter a date and start and end times, or tick 'Date to be confirmed'."
        else:
            try:
                begin = clock.london_to_utc(f"{day}T{start}", field="start_time")
                finish = clock.london_to_utc(f"{day}T{end}", field="end_time")
            except ValidationError as error:
                errors.update(error.errors)
            else:
                starts_at, ends_at = clock.iso(begin), clock.iso(finish)
                if finish <= begin:
                    errors["end_time"] = "The end must be after the start."
                elif begin <= clock.now() and not _same_date(current, starts_at, ends_at):
                    errors["date"] = ("That date and time has already passed. Choose a date and time in the "
                                      "future, or tick 'Date to be confirmed'.")
    capacity_raw = str(data.get("capacity", "")).strip()
    capacity = None
    if capacity_raw:
        if not (capacity_raw.isascii() and capacity_raw.isdigit()) or not 1 <= int(capacity_raw) <= 10000:
            errors["capacity"] = "Enter a number of places from 1 to 10000, or leave it empty for no limit."
        else:
            capacity = int(capacity_raw)
    mode = str(data.get("mode", "open"))
    if mode not in MODES:
        errors["mode"] = "Choose how people register."
    if mode == "contact" and not text["contact"]:
        errors["contact"] = "Say how to contact the coordinator, for example an email address."
    if errors:
        raise ValidationError(errors)
    return {**text, "online_url": online_url, "starts_at": starts_at, "ends_at": ends_at,
            "capacity": capacity, "mode": mode,
            "waiting_list": str(data.get("waiting_list", "")).lower() in {"yes", "on", "true", "1"}}


def _same_date(event: dict | None, starts_at: str, ends_at: str) -> bool:
    return bool(event) and (event.get("starts_at", ""), event.get("ends_at", "")) == (starts_at, ends_at)


def form_values(event: dict) -> dict:
    """An event as the edit form shows it (times in Europe/London)."""
    values = {k: event.get(k, "") for k in ("title", "audience", "venue", "online_url", "contact", "mode")}
    values["capacity"] = str(event["capacity"]) if event.get("capacity") else ""
    values["waiting_list"] = "yes" if event.get("waiting_list", True) else ""
    if event.get("starts_at"):
        start, end = clock.in_london(event["starts_at"]), clock.in_london(event["ends_at"])
        values.update(date=start.strftime("%Y-%m-%d"), start_time=start.strftime("%H:%M"),
                      end_time=end.strftime("%H:%M"), tbc="")
    else:
        values.update(date="", start_time="", end_time="", tbc="yes")
    return values


def form_key(form_id: str) -> str:
    """The id an event created from one rendering of the form gets, so a second submission creates nothing."""
    return keyed_hash("event-form", str(form_id))[:12].lower()


def new_form_id() -> str:
    return secrets.token_urlsafe(16)


def create(fields: dict, event_id: str | None = None) -> dict:
    """The new event; if `event_id` exists already (a repeated submission), that one, and nothing is created."""
    from botocore.exceptions import ClientError

    event_id = event_id or secrets.token_hex(6)
    now = clock.iso()
    capacity = fields["capacity"]
    item = {
        **keys.event(event_id), **keys.event_index(fields["starts_at"], event_id),
        "event_id": event_id, **{k: v for k, v in fields.items() if k != "capacity"},
        "limited": capacity is not None, "capacity": capacity or 0,
        "free": _free_for(capacity is not None, capacity or 0, fields["mode"], 0, 0),
        "held": 0, "confirmed": 0, "waiting": 0, "seq": 0, "version": 1,
        "status": "scheduled", "created_at": now, "updated_at": now,
    }
    try:
        aws.table().put_item(Item=item, ConditionExpression="attribute_not_exists(PK)")
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return get_or_404(event_id)
        raise
    count(Metric.EVENTS_CREATED)
    return item


def _free_for(limited: bool, capacity: int, mode: str, confirmed: int, held: int) -> int:
    return max(0, capacity - confirmed - held) if limited and mode == "open" else 0


def update(event_id: str, fields: dict) -> tuple[dict, int]:
    """Edit an event; returns it and how many people were told of a changed time or place.

    New places go to the queue first. A date can only move into the future: a past date would tell
    everyone a time that has gone and make the event look finished."""
    from botocore.exceptions import ClientError

    for _ in range(MAX_ATTEMPTS):
        event = get_or_404(event_id)
        if event["status"] == "cancelled":
            raise Conflict("This event is cancelled and can no longer be edited.")
        if event.get("anonymised_at"):
            raise Conflict("This event has taken place and its attendees' details have been deleted. "
                           "Create a new event instead.")
        if (fields["starts_at"] and not _same_date(event, fields["starts_at"], fields["ends_at"])
                and clock.parse_iso(fields["starts_at"]) <= clock.now()):
            raise ValidationError({"date": "That date and time has already passed. Choose a date and time in the "
                                           "future, or tick 'Date to be confirmed'."})
        capacity = fields["capacity"]
        limited = capacity is not None
        confirmed, held = int(event["confirmed"]), int(event["held"])
        if limited and capacity < confirmed + held:
            raise ValidationError({"capacity": f"{confirmed + held} places are already taken or offered. "
                                               "Enter at least that many, or cancel registrations first."})
        free = _free_for(limited, capacity or 0, fields["mode"], confirmed, held)
        values = {":v": event["version"], ":nv": int(event["version"]) + 1, ":c": confirmed, ":h": held,
                  ":f": event["free"], ":nf": free, ":cap": capacity or 0, ":lim": limited, ":now": clock.iso()}
        sets = ["version = :nv", "free = :nf", "capacity = :cap", "limited = :lim", "updated_at = :now",
                "GSI1SK = :gsk"]
        values[":gsk"] = keys.event_index(fields["starts_at"], event_id)["GSI1SK"]
        for i, (name, value) in enumerate(f for f in fields.items() if f[0] != "capacity"):
            sets.append(f"#f{i} = :f{i}")
            values[f":f{i}"] = value
        (expression, condition), names = _named("SET " + ", ".join(sets),
                                                "version = :v AND confirmed = :c AND held = :h AND free = :f")
        names.update({f"#f{i}": name for i, name in enumerate(k for k in fields if k != "capacity")})
        try:
            aws.table().update_item(
                Key=keys.event(event_id), UpdateExpression=expression, ConditionExpression=condition,
                ExpressionAttributeNames=names, ExpressionAttributeValues=values)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                continue
            raise
        updated = get_or_404(event_id)
        moved = any(event.get(k, "") != updated.get(k, "") for k in ("starts_at", "ends_at", "venue", "online_url"))
        told = _notify_change(updated) if moved else 0
        offer_free_places(event_id)
        return get_or_404(event_id), told
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
    regs = registrations(event_id)
    return Affected(*(sum(r["status"] == s for r in regs) for s in ("confirmed", "waiting", "offered")))


def parse_cancel_message(data: dict) -> str:
    message = clean_text(data.get("message"))
    if len(message) > MAX_MESSAGE:
        raise ValidationError({"message": f"Use at most {MAX_MESSAGE} characters."})
    return message


def cancel_event(event_id: str, message: str = "") -> tuple[dict, Affected]:
    """Cancel, withdraw open offers, and tell everyone registered, offered or waiting, once each.

    Repeating it (a double click, or the retry a failed send asks for) emails only those not yet told."""
    from botocore.exceptions import ClientError

    get_or_404(event_id)
    try:
        aws.table().update_item(
            Key=keys.event(event_id),
            UpdateExpression="SET #s = :c, #v = #v + :one, updated_at = :now, cancelled_at = :now, cancel_message = :m",
            ConditionExpression="#s = :s", ExpressionAttributeNames={"#s": "status", "#v": "version"},
            ExpressionAttributeValues={":c": "cancelled", ":s": "scheduled", ":one": 1, ":now": clock.iso(),
                                       ":m": message})
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
    event = get_or_404(event_id)
    for reg in registrations(event_id):
        if reg["status"] == "offered":
            _withdraw_offer(event_id, reg)
    told = [r for r in registrations(event_id) if r["status"] in ("confirmed", "waiting", "withdrawn")
            and (r["status"] != "withdrawn" or r.get("withdrawn_by_cancellation"))]
    reached = Affected(*(sum(r["status"] == s for r in told) for s in ("confirmed", "waiting", "withdrawn")))
    _tell_each(event, told, f"event-cancelled#{event_id}", "cancelled_event")
    for reg in registrations(event_id):  # nobody needs arrangements for an event that will not happen
        if "access_needs" in reg:
            _forget_access_needs(event_id, reg["registration_id"])
    count(Metric.EVENTS_CANCELLED)
    return event, reached


def _withdraw_offer(event_id: str, reg: dict) -> None:
    try:
        _transact([
            _event_change(event_id, {"held": -1}, "held > :zero", {":zero": 0}),
            _registration_change(event_id, reg["registration_id"], "withdrawn", "#s = :o AND offer_expires_at = :exp",
                                 {":o": "offered", ":exp": reg["offer_expires_at"], ":yes": True},
                                 extra_set=", withdrawn_by_cancellation = :yes", remove="GSI2PK, GSI2SK"),
        ])
    except _Cancelled:
        return  # answered or withdrawn a moment ago


def _forget_access_needs(event_id: str, rid: str) -> None:
    aws.table().update_item(
        Key=keys.registration(event_id, rid), UpdateExpression="SET access_needs_deleted_at = :now REMOVE access_needs",
        ExpressionAttributeValues={":now": clock.iso()})


# ---------------------------------------------------------------- transactions

def _serialise(values: dict) -> dict:
    from boto3.dynamodb.types import TypeSerializer

    serializer = TypeSerializer()
    return {k: serializer.serialize(v) for k, v in values.items()}


def _transact(items: list[tuple[str, dict]]) -> None:
    from botocore.exceptions import ClientError

    table_name = get_settings().table_name
    request = []
    for kind, spec in items:
        spec = {**spec, "TableName": table_name}
        for part in ("Key", "Item", "ExpressionAttributeValues"):
            if part in spec:
                spec[part] = _serialise(spec[part])
        request.append({kind: spec})
    try:
        aws.dynamodb_client().transact_write_items(TransactItems=request)
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("TransactionCanceledException", "TransactionConflictException"):
            reasons = exc.response.get("CancellationReasons") or []
            raise _Cancelled([i for i, r in enumerate(reasons) if r.get("Code") not in (None, "None")]) from exc
        raise


_EVENT_ATTRIBUTES = re.compile(r"(?<![:#\w])(waiting_list|mode|free|held|confirmed|waiting|limited|version|capacity)\b")


def _named(*expressions: str) -> tuple[list[str], dict]:
    """Event attribute names (some are DynamoDB reserved words) as #placeholders, plus "#s" for status."""
    rewritten = [_EVENT_ATTRIBUTES.sub(lambda m: "#" + m.group(1), e) for e in expressions]
    names = {"#" + n: n for e in expressions for n in _EVENT_ATTRIBUTES.findall(e)}
    if any("#s " in e or e.endswith("#s") or "#s," in e for e in rewritten):
        names["#s"] = "status"
    return rewritten, names


def _event_change(event_id: str, add: dict[str, int], condition: str, values: dict) -> tuple[str, dict]:
    """One update of the event's counters, guarded by `condition` (with "#s" meaning status)."""
    values = {**values, **{f":d_{k}": v for k, v in add.items()}}
    (update, condition), names = _named("ADD " + ", ".join(f"{k} :d_{k}" for k in add), condition)
    return ("Update", {
        "Key": keys.event(event_id),
        "UpdateExpression": update,
        "ConditionExpression": condition,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    })


def _registration_change(event_id: str, rid: str, new_status: str, condition: str, values: dict,
                         extra_set: str = "", remove: str = "") -> tuple[str, dict]:
    now = clock.iso()
    if new_status in ENDED:  # someone who is no longer coming needs no arrangements: forget them now
        remove = ", ".join(filter(None, [remove, "access_needs, access_consent"]))
    expression = (f"SET #s = :new, updated_at = :now, history = list_append(history, :h){extra_set}"
                  + (f" REMOVE {remove}" if remove else ""))
    return ("Update", {
        "Key": keys.registration(event_id, rid),
        "UpdateExpression": expression,
        "ConditionExpression": condition,
        "ExpressionAttributeNames": {"#s": "status"},
        "ExpressionAttributeValues": {**values, ":new": new_status, ":now": now,
                                      ":h": [{"status": new_status, "at": now}]},
    })


def _offer_item(event: dict, reg: dict) -> tuple[tuple[str, dict], str]:
    event_id = event["event_id"]
    expiry = clock.now() + timedelta(hours=get_settings().offer_window_hours)
    if event.get("starts_at"):  # an offer never outlives the start of the event
        expiry = min(expiry, clock.parse_iso(event["starts_at"]))
    expires_at = clock.iso(expiry)
    index = keys.offer_index(expires_at, event_id, reg["registration_id"])
    item = _registration_change(
        event_id, reg["registration_id"], "offered", "#s = :waiting",
        {":waiting": "waiting", ":exp": expires_at, ":gpk": index["GSI2PK"], ":gsk": index["GSI2SK"]},
        extra_set=", offer_expires_at = :exp, GSI2PK = :gpk, GSI2SK = :gsk")
    return item, expires_at


def _next_waiting(event_id: str) -> dict | None:
    from boto3.dynamodb.conditions import Key

    page = aws.table().query(IndexName="GSI2", KeyConditionExpression=Key("GSI2PK").eq(keys.event_queue(event_id)),
                             Limit=1)
    return page["Items"][0] if page["Items"] else None


def _offers_automatically(event: dict) -> bool:
    return event["mode"] == "open" and status(event) == "scheduled" and not has_started(event)


def _release(event_id: str, leaving: tuple[str, dict], base: dict[str, int]) -> bool:
    """Someone gives up a place (`leaving` changes their registration; `base` their counter change).

    In the same transaction the place goes to the next person in the queue as an offer, or back to
    the public if nobody is waiting. False if `leaving`'s own condition failed (already done)."""
    for attempt in range(MAX_ATTEMPTS):
        event = get_or_404(event_id)
        add, items, offered = dict(base), [leaving], None
        values = {":v": event["version"], ":zero": 0}
        condition = "version = :v"
        nxt = _next_waiting(event_id) if _offers_automatically(event) and int(event["waiting"]) > 0 else None
        if nxt:
            add["held"] = add.get("held", 0) + 1
            add["waiting"] = -1
            condition += " AND waiting > :zero"
            offer, expires_at = _offer_item(event, nxt)
            items.append(offer)
            offered = (nxt, expires_at)
        elif _offers_automatically(event) and event.get("limited"):
            add["free"] = 1
            condition += " AND waiting = :zero"
        elif event.get("limited") and event["mode"] == "open":
            add["free"] = 1
        items.insert(0, _event_change(event_id, add, condition, values))
        try:
            _transact(items)
        except _Cancelled as cancelled:
            if 1 in cancelled.failed:
                return False
            _pause(attempt)
            continue
        if offered:
            _send_offer(event_id, offered[0]["registration_id"])
        return True
    raise Conflict("Many people are changing their registrations at once. Please try again in a moment.")


def _pause(attempt: int) -> None:
    time.sleep(min(0.2, 0.005 * (attempt + 1)) * (0.5 + secrets.randbelow(100) / 100))


def offer_free_places(event_id: str) -> int:
    """Offer every place the public could take to the people waiting, first come first served."""
    offered = 0
    for attempt in range(10_000):
        event = get_or_404(event_id)
        if not _offers_automatically(event) or int(event["waiting"]) <= 0:
            return offered
        if event.get("limited") and int(event["free"]) <= 0:
            return offered
        nxt = _next_waiting(event_id)
        if not nxt:
            return offered
        add = {"held": 1, "waiting": -1}
        condition = "version = :v AND waiting > :zero"
        if event.get("limited"):
            add["free"] = -1
            condition += " AND free > :zero"
        offer, _ = _offer_item(event, nxt)
        try:
            _transact([_event_change(event_id, add, condition, {":v": event["version"], ":zero": 0}), offer])
        except _Cancelled:
            _pause(min(attempt, 20))
            continue
        _send_offer(event_id, nxt["registration_id"])
        offered += 1
    return offered


# ---------------------------------------------------------------- attendees

def registration_id(event_id: str, email: str) -> str:
    return keyed_hash("event-registration", f"{event_id}#{email.strip().lower()}")


def parse_registration(data: dict) -> Registration:
    from chalicelib.subscriptions import normalise_email

    errors: dict[str, str] = {}
    name = clean_line(data.get("name"))
    if not name:
        errors["name"] = "Enter your name."
    elif len(name) > MAX_NAME:
        errors["name"] = f"Use at most {MAX_NAME} characters."
    email = ""
    try:
        email = normalise_email(str(data.get("email", "")))
    except ValidationError as exc:
        errors.update(exc.errors)
    needs = clean_text(data.get("access_needs"))
    consent = str(data.get("access_consent", "")).lower() in {"yes", "on", "true", "1"} or data.get("access_consent") is True
    if len(needs) > MAX_NEEDS:
        errors["access_needs"] = f"Use at most {MAX_NEEDS} characters."
    elif needs and not consent:
        errors["access_consent"] = ("Tick the box so we may keep what you told us about your access needs, "
                                    "or leave that box empty.")
    if errors:
        raise ValidationError(errors)
    return Registration(name, email, needs, consent and bool(needs))


def _ensure_open(event: dict) -> None:
    state = status(event)
    if state == "cancelled":
        raise Conflict("This event has been cancelled, so registration is closed.")
    if state == "past" or has_started(event):
        raise Conflict("This event has already taken place, so registration is closed.")
    if event["mode"] == "contact":
        raise Conflict(f"To take part, please contact the coordinator: {event.get('contact', '')}")


def request_registration(event_id: str, person: Registration, client: str = "") -> None:
    """What the public form does: keep the request as "pending" and email the address a link to confirm it.

    Nothing counts until the confirmation, so nothing a stranger can see moves, and the caller always
    shows the same page: whether this address was already registered is only ever told to the address."""
    from botocore.exceptions import ClientError

    if client:  # one machine registering many addresses would be mailing strangers
        ratelimit.enforce("event-register-client", client, get_settings().event_registrations_per_client_per_hour)
    event = get_or_404(event_id)
    _ensure_open(event)
    if availability_of(event) is Availability.FULL:
        raise Conflict("This event is full and has no waiting list.")
    rid = registration_id(event_id, person.email)
    existing = get_registration(event_id, rid)
    if existing and existing["status"] in ACTIVE:
        _already_registered(event, existing)
        return
    now = clock.now()
    keep = existing and existing["status"] == PENDING and int(existing.get("expires_at", 0)) > clock.epoch()
    item = {
        **keys.registration(event_id, rid), "registration_id": rid, "event_id": event_id, "status": PENDING,
        "name": person.name, "email": person.email, "created_at": clock.iso(now), "updated_at": clock.iso(now),
        "request_nonce": existing["request_nonce"] if keep else secrets.token_urlsafe(12),
        "expires_at": clock.epoch() + PENDING_HOURS * 3600 + 3600,  # DynamoDB's TTL deletes what nobody confirms
    }
    if person.access_needs:
        item["access_needs"] = person.access_needs
    try:
        aws.table().put_item(
            Item=item, ConditionExpression="attribute_not_exists(PK) OR #s IN (" +
            ", ".join(f":e{i}" for i in range(len(ENDED) + 1)) + ")",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={f":e{i}": s for i, s in enumerate((*ENDED, PENDING))})
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        reg = get_registration(event_id, rid)  # confirmed a moment ago
        if reg and reg["status"] in ACTIVE:
            _already_registered(event, reg)
        return
    count(Metric.EVENT_REGISTRATION_REQUESTS)
    if ratelimit.allow("event-request", f"{event_id}#{person.email.lower()}", 3):  # a flood of repeats sends a few
        _send(event, item, "request")


def from_confirm_token(token: str) -> tuple[dict, dict]:
    """The event and the registration a confirmation link is for (pending, or already confirmed by it)."""
    payload = tokens.verify("event-confirm", token, max_age_seconds=PENDING_HOURS * 3600)
    if not isinstance(payload, list) or len(payload) != 3:
        raise InvalidToken("This link is incomplete or has been changed. Please use the link from your email.")
    event = get(str(payload[0]))
    reg = get_registration(str(payload[0]), str(payload[1])) if event else None
    if not event or not reg or reg.get("request_nonce") != payload[2] or reg.get("anonymised_at"):
        raise NotFound("We could not find this request. It may have expired; you can register again from the "
                       "event page.")
    return event, reg


def confirm_registration(token: str) -> tuple[dict, dict]:
    """The press of the email's button: the request takes a place, or joins the waiting list, now."""
    event, reg = from_confirm_token(token)
    if reg["status"] != PENDING:
        return event, reg  # a second press, or confirmed already: nothing twice
    person = Registration(reg["name"], reg["email"], reg.get("access_needs", ""), bool(reg.get("access_needs")))
    return event, register(event["event_id"], person, request_nonce=reg["request_nonce"])


def confirm_token(reg: dict) -> str:
    return tokens.sign("event-confirm", [reg["event_id"], reg["registration_id"], reg["request_nonce"]])


def register(event_id: str, person: Registration, client: str = "", *, request_nonce: str = "") -> dict:
    """Confirm a place if one is free to the public, else join the waiting list (if it has one).

    With `request_nonce`, only the pending request carrying it becomes the registration."""
    if client:
        ratelimit.enforce("event-register-client", client, get_settings().event_registrations_per_client_per_hour)
    event = get_or_404(event_id)
    _ensure_open(event)
    if availability_of(event) is Availability.FULL:
        raise Conflict("This event is full and has no waiting list.")
    rid = registration_id(event_id, person.email)
    arrival = _next_arrival(event_id)
    for attempt in range(MAX_ATTEMPTS):
        event = get_or_404(event_id)
        _ensure_open(event)
        new_status, items = _registration_attempt(event, rid, arrival, person, request_nonce)
        try:
            _transact(items)
        except _Cancelled as cancelled:
            if 1 in cancelled.failed:
                reg = get_registration(event_id, rid)
                if reg and reg["status"] in ACTIVE:
                    if not request_nonce:
                        _already_registered(event, reg)
                    return reg
                if request_nonce:
                    raise NotFound("We could not find this request. It may have expired; you can register "
                                   "again from the event page.") from None
            if 0 in cancelled.failed and new_status == "waiting" and not event.get("waiting_list", True):
                raise Conflict("This event is full and has no waiting list.") from None
            _pause(attempt)
            continue
        reg = get_registration(event_id, rid)
        count(Metric.EVENT_REGISTRATIONS if new_status == "confirmed" else Metric.EVENT_WAITING_LIST_JOINS)
        _send(event, reg, "confirmed" if new_status == "confirmed" else "waiting")
        return reg
    raise Conflict("Many people are registering at once. Please try again in a moment.")


def _next_arrival(event_id: str) -> int:
    from botocore.exceptions import ClientError

    try:
        result = aws.table().update_item(
            Key=keys.event(event_id), UpdateExpression="ADD seq :one", ConditionExpression="attribute_exists(PK)",
            ExpressionAttributeValues={":one": 1}, ReturnValues="UPDATED_NEW")
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            raise NotFound("We could not find that event.") from exc
        raise
    return int(result["Attributes"]["seq"])


def _registration_attempt(event: dict, rid: str, arrival: int, person: Registration, request_nonce: str = ""):
    event_id, now = event["event_id"], clock.iso()
    scheduled = {":scheduled": "scheduled", ":open": "open", ":zero": 0, ":true": True}
    left = places_left(event)
    take_place = event["mode"] == "open" and (left is None or left > 0)
    if take_place and event.get("limited"):
        change = _event_change(event_id, {"free": -1, "confirmed": 1},
                               "#s = :scheduled AND mode = :open AND limited = :true AND free > :zero "
                               "AND waiting = :zero", scheduled)
    elif take_place:
        change = _event_change(event_id, {"confirmed": 1},
                               "#s = :scheduled AND mode = :open AND limited = :false",
                               {":scheduled": "scheduled", ":open": "open", ":false": False})
    else:
        change = _event_change(event_id, {"waiting": 1},
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
    if request_nonce:  # the pending request this confirms, and only while it is still pending
        item["request_nonce"] = request_nonce
        put = ("Put", {"Item": item, "ConditionExpression": "#s = :pending AND request_nonce = :n",
                       "ExpressionAttributeNames": {"#s": "status"},
                       "ExpressionAttributeValues": {":pending": PENDING, ":n": request_nonce}})
    else:
        put = ("Put", {
            "Item": item,
            "ConditionExpression": "attribute_not_exists(PK) OR #s IN (" +
            ", ".join(f":e{i}" for i in range(len(ENDED) + 1)) + ")",
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": {f":e{i}": s for i, s in enumerate((*ENDED, PENDING))},
        })
    return new_status, [change, put]


def _already_registered(event: dict, reg: dict) -> None:
    # Only the address itself learns it was registered; a flood of repeats sends at most a few.
    if ratelimit.allow("event-already", f"{event['event_id']}#{reg['email']}", 3):
        _send(event, reg, "already")


def get_registration(event_id: str, rid: str) -> dict | None:
    return aws.table().get_item(Key=keys.registration(event_id, rid), ConsistentRead=True).get("Item")


def registrations(event_id: str, include_pending: bool = False) -> list[dict]:
    """Registrations in arrival order; requests nobody has confirmed yet only when asked for."""
    from boto3.dynamodb.conditions import Key

    items = dynamo.query_items(KeyConditionExpression=Key("PK").eq(keys.event_partition(event_id))
                            & Key("SK").begins_with(keys.registration_prefix()), ConsistentRead=True)
    return sorted((r for r in items if include_pending or r["status"] != PENDING), key=lambda r: int(r.get("arrival", 0)))


def position(reg: dict) -> int | None:
    """1 for the front of the queue. Counts only those still waiting ahead of this person."""
    from boto3.dynamodb.conditions import Key

    if reg["status"] != "waiting":
        return None
    event_id = reg["event_id"]
    mine = keys.queue_index(event_id, int(reg["arrival"]))["GSI2SK"]
    return 1 + dynamo.query_count(IndexName="GSI2", KeyConditionExpression=(
        Key("GSI2PK").eq(keys.event_queue(event_id)) & Key("GSI2SK").lt(mine)))


def waiting_positions(event_id: str) -> dict[str, int]:
    queue = [r for r in registrations(event_id) if r["status"] == "waiting"]
    return {r["registration_id"]: n for n, r in enumerate(queue, start=1)}


# ---------------------------------------------------------------- links from email

def manage_token(reg: dict) -> str:
    return tokens.sign("event-registration", [reg["event_id"], reg["registration_id"], int(reg["arrival"])])


def offer_token(reg: dict) -> str:
    return tokens.sign("event-offer", [reg["event_id"], reg["registration_id"], int(reg["arrival"]),
                                       reg["offer_expires_at"]])


def links(reg: dict) -> dict[str, str]:
    base = get_settings().public_base_url
    if reg["status"] == PENDING:
        return {"confirm_url": f"{base}/events/confirm/{confirm_token(reg)}", "manage_url": ""}
    found = {"manage_url": f"{base}/events/registration/{manage_token(reg)}"}
    if reg["status"] == "offered":
        found["offer_url"] = f"{base}/events/offer/{offer_token(reg)}"
    return found


_GONE = "We could not find this registration. It may have ended, or the details were deleted after the event."


def _from_token(purpose: str, token: str) -> tuple[dict, dict, list]:
    payload = tokens.verify(purpose, token)
    if not isinstance(payload, list) or len(payload) < 3:
        raise InvalidToken("This link is incomplete or has been changed. Please use the link from your email.")
    event = get(str(payload[0]))
    reg = get_registration(str(payload[0]), str(payload[1])) if event else None
    if not event or not reg or int(reg.get("arrival", -1)) != int(payload[2]) or reg.get("anonymised_at"):
        raise NotFound(_GONE)
    return event, reg, payload


def from_manage_token(token: str) -> tuple[dict, dict]:
    event, reg, _ = _from_token("event-registration", token)
    return event, reg


def give_back(token: str) -> tuple[dict, dict]:
    """Cancel a place, leave the waiting list, or decline an offer: whichever this person has now."""
    event, reg = from_manage_token(token)
    rid, event_id = reg["registration_id"], event["event_id"]
    if reg["status"] == "confirmed":
        if _release(event_id, _registration_change(event_id, rid, "cancelled", "#s = :c", {":c": "confirmed"}),
                    {"confirmed": -1}):
            count(Metric.EVENT_CANCELLATIONS)
            _send(event, get_registration(event_id, rid), "gave_back")
    elif reg["status"] == "waiting":
        _leave_queue(event_id, rid)
    elif reg["status"] == "offered":
        _decline(event_id, reg, "declined")
    return event, get_registration(event_id, rid)


def _leave_queue(event_id: str, rid: str) -> None:
    try:
        _transact([
            _event_change(event_id, {"waiting": -1}, "waiting > :zero", {":zero": 0}),
            _registration_change(event_id, rid, "left", "#s = :w", {":w": "waiting"}, remove="GSI2PK, GSI2SK"),
        ])
    except _Cancelled:
        return  # already left (a double click)
    count(Metric.EVENT_WAITING_LIST_LEAVES)
    event = get_or_404(event_id)
    _send(event, get_registration(event_id, rid), "left")


def _decline(event_id: str, reg: dict, outcome: str) -> bool:
    condition = "#s = :o AND offer_expires_at = :exp"
    values = {":o": "offered", ":exp": reg["offer_expires_at"]}
    if outcome == "expired":
        condition += " AND offer_expires_at <= :now"
        values[":now"] = clock.iso()
    leaving = _registration_change(event_id, reg["registration_id"], outcome, condition, values,
                                   remove="GSI2PK, GSI2SK")
    done = _release(event_id, leaving, {"held": -1})
    event = get_or_404(event_id)
    if done and status(event) == "scheduled":  # after a cancellation the attendee has been told already
        count(Metric.EVENT_OFFERS_DECLINED if outcome == "declined" else Metric.EVENT_OFFERS_EXPIRED)
        _send(event, get_registration(event_id, reg["registration_id"]),
              "offer_expired" if outcome == "expired" else "left")
    return done


def from_offer_token(token: str) -> tuple[dict, dict, str]:
    """The event, the registration and what the offer is now: open, accepted, expired or gone."""
    event, reg, payload = _from_token("event-offer", token)
    offer_expiry = str(payload[3]) if len(payload) > 3 else ""
    if reg["status"] == "offered" and reg.get("offer_expires_at") == offer_expiry:
        if clock.parse_iso(offer_expiry) <= clock.now():
            return event, reg, "expired"
        if status(event) != "scheduled":
            return event, reg, "closed"
        return event, reg, "open"
    if reg["status"] == "confirmed" and reg.get("accepted_offer") == offer_expiry:
        return event, reg, "accepted"
    if reg["status"] in ("expired", "declined", "withdrawn") and reg.get("offer_expires_at") == offer_expiry:
        return event, reg, reg["status"]
    return event, reg, "gone"


def accept_offer(token: str) -> tuple[dict, dict, str]:
    event, reg, state = from_offer_token(token)
    if state == "expired" and reg["status"] == "offered":
        _decline(event["event_id"], reg, "expired")  # pass it on now rather than at the next sweep
        return event, get_registration(event["event_id"], reg["registration_id"]), "expired"
    if state != "open":
        return event, reg, state
    event_id, rid = event["event_id"], reg["registration_id"]
    try:
        _transact([
            _event_change(event_id, {"held": -1, "confirmed": 1}, "#s = :scheduled AND held > :zero",
                          {":zero": 0, ":scheduled": "scheduled"}),
            _registration_change(event_id, rid, "confirmed", "#s = :o AND offer_expires_at = :exp AND :now < offer_expires_at",
                                 {":o": "offered", ":exp": reg["offer_expires_at"], ":now": clock.iso()},
                                 extra_set=", confirmed_at = :now, accepted_offer = :exp", remove="GSI2PK, GSI2SK"),
        ])
    except _Cancelled:
        return from_offer_token(token)
    count(Metric.EVENT_OFFERS_ACCEPTED)
    reg = get_registration(event_id, rid)
    _send(event, reg, "confirmed")
    return event, reg, "accepted"


def decline_offer(token: str) -> tuple[dict, dict, str]:
    event, reg, state = from_offer_token(token)
    if state in ("open", "closed"):
        _decline(event["event_id"], reg, "declined")
        return event, get_registration(event["event_id"], reg["registration_id"]), "declined"
    if state == "expired" and reg["status"] == "offered":
        _decline(event["event_id"], reg, "expired")
    return event, reg, state


def offer_by_hand(event_id: str, rid: str) -> dict:
    """A coordinator offers a place to one person on the waiting list, whatever their position.

    With a limit on an open event it takes a free place; otherwise the coordinator's judgement adds one."""
    event = get_or_404(event_id)
    if status(event) != "scheduled":
        raise Conflict("This event is not taking registrations.")
    reg = get_registration(event_id, rid)
    if not reg or reg["status"] != "waiting":
        raise Conflict("This person is no longer on the waiting list.")
    add, condition = {"held": 1, "waiting": -1}, "#s = :scheduled AND waiting > :zero"
    values = {":scheduled": "scheduled", ":zero": 0}
    if event.get("limited") and event["mode"] == "open":
        add["free"] = -1
        condition += " AND free > :zero"
    offer, _ = _offer_item(event, reg)
    try:
        _transact([_event_change(event_id, add, condition, values), offer])
    except _Cancelled as cancelled:
        if 0 in cancelled.failed:
            raise Conflict("There is no free place to offer. Raise the number of places first, "
                           "and the queue is offered the new places in order.") from None
        raise Conflict("This person is no longer on the waiting list.") from None
    _send_offer(event_id, rid)
    return get_registration(event_id, rid)


# ---------------------------------------------------------------- scheduled work

def pass_on_expired_offers() -> int:
    """Expired offers go to the next person; offers whose email never left are sent now."""
    from boto3.dynamodb.conditions import Key

    passed, now = 0, clock.iso()
    for reg in dynamo.query_items(IndexName="GSI2", KeyConditionExpression=Key("GSI2PK").eq(keys.offers_index())):
        if reg["status"] != "offered":
            continue
        if reg["offer_expires_at"] <= now:
            passed += int(_decline(reg["event_id"], reg, "expired"))
        else:
            _send_offer(reg["event_id"], reg["registration_id"])
    logger().info("offers swept", extra={"expired": passed})
    return passed


def send_reminders() -> int:
    """Remind confirmed attendees of events starting within settings.reminder_hours_before, once each."""
    hours = get_settings().reminder_hours_before
    now = clock.now()
    sent = 0
    for event in _query_events(between=(clock.iso(now), clock.iso(now + timedelta(hours=hours)) + "~")):
        if status(event) != "scheduled":
            continue
        for reg in registrations(event["event_id"]):
            if reg["status"] != "confirmed":
                continue
            purpose = f"event-reminder#{event['event_id']}#{event['starts_at']}"
            if not claims.claim(purpose, reg["registration_id"]):
                continue
            try:
                _send(event, reg, "reminder")
            except Exception:
                claims.release(purpose, reg["registration_id"])
                raise
            sent += 1
    if sent:
        count(Metric.EVENT_REMINDERS, sent)
    return sent


def anonymise_past() -> int:
    """Access needs go when the event ends; names and addresses settings.attendee_retention_days later."""
    now = clock.now()
    cutoff = now - timedelta(days=get_settings().attendee_retention_days)
    done = 0
    # Dated events that have started, and undated ("TBC") ones, which may have been cancelled.
    for event in _query_events(before=clock.iso(now)) + _query_events(after="TBC#"):
        ended = event.get("ends_at") and clock.parse_iso(event["ends_at"]) <= now
        # Only time passing ends an event: a date can never be edited into the past (update refuses it).
        cancelled_at = event.get("cancelled_at") or event["updated_at"]
        finished = ended or (event["status"] == "cancelled" and clock.parse_iso(cancelled_at) <= now)
        if not finished or event.get("anonymised_at"):
            continue
        anonymise = clock.parse_iso(event.get("ends_at") or cancelled_at) <= cutoff
        for reg in registrations(event["event_id"], include_pending=True):
            if anonymise and not reg.get("anonymised_at"):
                aws.table().update_item(
                    Key=keys.registration(event["event_id"], reg["registration_id"]),
                    UpdateExpression="SET #n = :anon, email = :anon, anonymised_at = :now "
                                     "REMOVE access_needs, access_consent, GSI2PK, GSI2SK",
                    ExpressionAttributeNames={"#n": "name"},
                    ExpressionAttributeValues={":anon": "(anonymised)", ":now": clock.iso()})
                done += 1
            elif "access_needs" in reg:
                aws.table().update_item(
                    Key=keys.registration(event["event_id"], reg["registration_id"]),
                    UpdateExpression="SET access_needs_deleted_at = :now REMOVE access_needs",
                    ExpressionAttributeValues={":now": clock.iso()})
        if anonymise:
            aws.table().update_item(Key=keys.event(event["event_id"]), UpdateExpression="SET anonymised_at = :now",
                                    ExpressionAttributeValues={":now": clock.iso()})
    logger().info("attendees anonymised", extra={"registrations": done})
    return done


# ---------------------------------------------------------------- email and calendar

SUBJECTS = {
    "confirmed": "Your place at {title} is confirmed",
    "waiting": "You are on the waiting list for {title}",
    "already": "You are already registered for {title}",
    "offer": "A place is free for you at {title}",
    "reminder": "Reminder: {title} is coming up",
    "changed": "Changed: {title}",
    "cancelled_event": "Cancelled: {title}",
    "gave_back": "You have given your place back: {title}",
    "left": "You have left the waiting list: {title}",
    "offer_expired": "Your offer for {title} has expired",
    "request": "Please confirm your registration for {title}",
}


def ics(event: dict, *, for_attendee: bool = False, cancelled: bool = False) -> bytes:
    """An iCalendar file for the event; the online link only in an attendee's copy."""
    from icalendar import Calendar
    from icalendar import Event as CalendarEvent

    if not event.get("starts_at"):
        raise NotFound("This event has no date yet, so there is no calendar entry. We will email you when it is set.")
    settings = get_settings()
    domain = settings.public_base_url.split("//", 1)[-1].split("/", 1)[0].split(":", 1)[0]
    calendar = Calendar()
    calendar.add("prodid", "-//PeerPost//Dates for the diary//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "CANCEL" if cancelled else "PUBLISH")
    entry = CalendarEvent()
    entry.add("uid", f"event-{event['event_id']}@{domain}")
    entry.add("dtstamp", clock.now())
    entry.add("dtstart", clock.parse_iso(event["starts_at"]))
    entry.add("dtend", clock.parse_iso(event["ends_at"]))
    entry.add("summary", event["title"])
    entry.add("sequence", int(event.get("version", 1)))
    entry.add("status", "CANCELLED" if cancelled or event["status"] == "cancelled" else "CONFIRMED")
    location = event.get("venue") or "Online"
    if for_attendee and event.get("online_url"):
        location = f"{event['venue']} / {event['online_url']}" if event.get("venue") else event["online_url"]
    entry.add("location", location)
    entry.add("url", public_url(event["event_id"]))
    entry.add("description", f"For: {event['audience']}\n{public_url(event['event_id'])}")
    calendar.add_component(entry)
    return calendar.to_ical()


def _calendar_attachment(event: dict, cancelled: bool = False) -> tuple:
    from chalicelib.mail import Attachment

    if not event.get("starts_at"):
        return ()
    method = "CANCEL" if cancelled else "PUBLISH"
    return (Attachment("event.ics", ics(event, for_attendee=True, cancelled=cancelled), "text", "calendar",
                       {"method": method}),)


def _send(event: dict, reg: dict, kind: str) -> None:
    if not reg or reg.get("anonymised_at"):
        return
    attachments = ()
    if kind in ("confirmed", "changed", "reminder") and reg["status"] == "confirmed":
        attachments = _calendar_attachment(event)
    elif kind == "cancelled_event" and reg["status"] == "confirmed":
        attachments = _calendar_attachment(event, cancelled=True)
    emails.send(
        reg["email"], "event_notice", SUBJECTS[kind].format(title=event["title"]), purpose=f"event-{kind}",
        attachments=attachments, kind=kind, attendee=reg["name"], title=event["title"], audience=event["audience"],
        when=when(event), where=where(event), registration_status=reg["status"], position=position(reg),
        online_url=event.get("online_url", "") if reg["status"] == "confirmed" else "",
        offer_expires=reg.get("offer_expires_at", ""), event_url=public_url(event["event_id"]),
        coordinator_message=event.get("cancel_message", "") if kind == "cancelled_event" else "",
        **links(reg))


def _send_offer(event_id: str, rid: str) -> None:
    reg = get_registration(event_id, rid)
    if not reg or reg["status"] != "offered":
        return
    event = get_or_404(event_id)
    purpose = f"event-offer#{reg['offer_expires_at']}"
    if status(event) != "scheduled" or not claims.claim(purpose, rid):
        return
    try:
        _send(event, reg, "offer")
    except Exception:
        claims.release(purpose, rid)
        raise
    count(Metric.EVENT_OFFERS)


def _notify_change(event: dict) -> int:
    told = [reg for reg in registrations(event["event_id"])
            if reg["status"] in ("confirmed", "offered") or (reg["status"] == "waiting" and event.get("starts_at"))]
    return _tell_each(event, told, f"event-change#{event['event_id']}#{event['version']}", "changed")


def _tell_each(event: dict, people: list[dict], purpose: str, kind: str) -> int:
    """Email each person once; one failure neither stops the rest nor uses up that person's claim."""
    from chalicelib.errors import SendThrottled

    failed = told = 0
    for reg in people:
        if not claims.claim(purpose, reg["registration_id"]):
            continue
        try:
            _send(event, reg, kind)
        except Exception:
            claims.release(purpose, reg["registration_id"])
            failed += 1
        else:
            told += 1
    if failed:
        raise SendThrottled(f"{failed} people could not be emailed just now. Press the button again in a "
                            "minute: only they will be emailed.")
    return told


# ---------------------------------------------------------------- coordinator export

def export_csv(event_id: str) -> str:
    get_or_404(event_id)
    positions = waiting_positions(event_id)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["arrival", "name", "email", "status", "waiting_position", "registered_at",
                     "confirmed_at", "offer_expires_at", "access_needs"])
    for reg in registrations(event_id):
        writer.writerow([_csv_safe(v) for v in (
            reg["arrival"], reg["name"], reg["email"], reg["status"], positions.get(reg["registration_id"], ""),
            reg["created_at"], reg.get("confirmed_at", ""),
            reg.get("offer_expires_at", "") if reg["status"] == "offered" else "",
            reg.get("access_needs", "") if reg["status"] in ACTIVE else "")])
    return out.getvalue()


_FORMULA = ("=", "+", "-", "@", "\t", "\r", "\n")


def _csv_safe(value) -> str:
    """Every cell: control characters dropped, then anything a spreadsheet would run kept as text."""
    text = strip_controls(str(value))
    return "'" + text if text.lstrip(" ")[:1] in _FORMULA or text[:1] in _FORMULA else text


def summary(event: dict) -> dict:
    """Counts for coordinator pages and the API."""
    return {"event_id": event["event_id"], "title": event["title"], "status": status(event),
            "when": when(event), "capacity": int(event["capacity"]) if event.get("limited") else None,
            "confirmed": int(event["confirmed"]), "offered": int(event["held"]), "waiting": int(event["waiting"]),
            "free": int(event["free"]), "availability": availability(event), "mode": event["mode"]}
