"""The one store of event and registration items: reads, queries, the counter and registration changes
that transactions are made of, and the single-item writes.

Capacity lives on the event item as counters (free, held, confirmed, waiting, and seq, the arrival
counter) that only ever move inside transactions whose conditions re-check what the decision was based
on; a stale read makes the transaction fail and the caller tries again (`pause` between attempts)."""
from __future__ import annotations

import re
import secrets
import time
from datetime import timedelta
from typing import Iterator

from chalicelib import aws, clock, dynamo, forms, keys
from chalicelib.errors import NotFound
from chalicelib.events import rules
from chalicelib.settings import get_settings
from chalicelib.signing_secret import keyed_hash

MAX_ATTEMPTS = 25
# Labels of a transaction's items, so TransactionFailed.failed says which condition did not hold.
EVENT, REGISTRATION, OFFER = "event", "registration", "offer"


# ---------------------------------------------------------------- events

def get(event_id: str) -> dict | None:
    if not event_id or len(event_id) > 64:
        return None
    return aws.table().get_item(Key=keys.event(event_id), ConsistentRead=True).get("Item")


def get_or_404(event_id: str) -> dict:
    event = get(event_id)
    if not event:
        raise NotFound("We could not find that event. It may have been removed; see Dates for the diary.")
    return event


def _events(sort_key=None) -> list[dict]:
    """Events of the GSI1 partition in start order (undated last), those whose GSI1SK `sort_key` admits."""
    from boto3.dynamodb.conditions import Key

    key = Key("GSI1PK").eq(keys.events_index())
    if sort_key is not None:
        key = key & sort_key(Key("GSI1SK"))
    return list(dynamo.query_items(IndexName="GSI1", KeyConditionExpression=key))


def all_events() -> list[dict]:
    return _events()


def upcoming() -> list[dict]:
    """Scheduled events that have not started, soonest first, undated ("to be confirmed") last."""
    return [e for e in _events(lambda sk: sk.gte(keys.events_starting_from(clock.iso())))
            if rules.status(e) == "scheduled"]


def starting_between(start: str, end: str) -> list[dict]:
    return _events(lambda sk: sk.between(keys.events_starting_from(start), keys.events_starting_until(end)))


def started_before(at: str) -> list[dict]:
    return _events(lambda sk: sk.lt(keys.events_starting_from(at)))


def undated() -> list[dict]:
    return _events(lambda sk: sk.gte(keys.undated_events()))


def put_new(item: dict) -> bool:
    """False if an event with this id exists already."""
    return dynamo.put_if_new(item)


def save_edit(event: dict, fields: dict, free: int) -> bool:
    """A coordinator's edit of `fields`, only if the event is still as read (False otherwise)."""
    event_id = event["event_id"]
    capacity = fields["capacity"]
    values = {":v": event["version"], ":nv": int(event["version"]) + 1, ":c": int(event["confirmed"]),
              ":h": int(event["held"]), ":f": event["free"], ":nf": free, ":cap": capacity or 0,
              ":lim": capacity is not None, ":now": clock.iso(),
              ":gsk": keys.event_index(fields["starts_at"], event_id)["GSI1SK"]}
    sets = ["version = :nv", "free = :nf", "capacity = :cap", "limited = :lim", "updated_at = :now",
            "GSI1SK = :gsk"]
    edited = [name for name in fields if name != "capacity"]
    for i, name in enumerate(edited):
        sets.append(f"#f{i} = :f{i}")
        values[f":f{i}"] = fields[name]
    (expression, condition), names = named("SET " + ", ".join(sets),
                                           "version = :v AND confirmed = :c AND held = :h AND free = :f")
    names.update({f"#f{i}": name for i, name in enumerate(edited)})
    return dynamo.update_if(Key=keys.event(event_id), UpdateExpression=expression, ConditionExpression=condition,
                            ExpressionAttributeNames=names, ExpressionAttributeValues=values)


def mark_cancelled(event_id: str, message: str) -> bool:
    """False if it was not scheduled (cancelled already)."""
    return dynamo.update_if(
        Key=keys.event(event_id),
        UpdateExpression="SET #s = :c, #v = #v + :one, updated_at = :now, cancelled_at = :now, cancel_message = :m",
        ConditionExpression="#s = :s", ExpressionAttributeNames={"#s": "status", "#v": "version"},
        ExpressionAttributeValues={":c": "cancelled", ":s": "scheduled", ":one": 1, ":now": clock.iso(),
                                   ":m": message})


def mark_anonymised(event_id: str) -> None:
    aws.table().update_item(Key=keys.event(event_id), UpdateExpression="SET anonymised_at = :now",
                            ExpressionAttributeValues={":now": clock.iso()})


def next_arrival(event_id: str) -> int:
    """The next number of the event's arrival counter: every registration attempt takes one first."""
    attributes = dynamo.update_returning(
        Key=keys.event(event_id), UpdateExpression="ADD seq :one", ConditionExpression="attribute_exists(PK)",
        ExpressionAttributeValues={":one": 1}, ReturnValues="UPDATED_NEW")
    if attributes is None:
        raise NotFound("We could not find that event.")
    return int(attributes["seq"])


# ---------------------------------------------------------------- registrations

def registration_id(event_id: str, email: str) -> str:
    return keyed_hash("event-registration", f"{event_id}#{forms.address_key(email)}")


def get_registration(event_id: str, rid: str) -> dict | None:
    return aws.table().get_item(Key=keys.registration(event_id, rid), ConsistentRead=True).get("Item")


def registrations(event_id: str, include_pending: bool = False) -> list[dict]:
    """Registrations in arrival order; requests nobody has confirmed yet only when asked for."""
    from boto3.dynamodb.conditions import Key

    items = dynamo.query_items(KeyConditionExpression=Key("PK").eq(keys.event_partition(event_id))
                               & Key("SK").begins_with(keys.registration_prefix()), ConsistentRead=True)
    return sorted((r for r in items if include_pending or r["status"] != rules.PENDING),
                  key=lambda r: int(r.get("arrival", 0)))


def next_waiting(event_id: str) -> dict | None:
    from boto3.dynamodb.conditions import Key

    page = aws.table().query(IndexName="GSI2", KeyConditionExpression=Key("GSI2PK").eq(keys.event_queue(event_id)),
                             Limit=1)
    return page["Items"][0] if page["Items"] else None


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


def open_offers() -> Iterator[dict]:
    """Every open offer (GSI2 holds them only while open), soonest expiry first, page by page."""
    from boto3.dynamodb.conditions import Key

    return dynamo.query_items(IndexName="GSI2", KeyConditionExpression=Key("GSI2PK").eq(keys.offers_index()))


def _replaceable() -> tuple[str, dict]:
    """The condition for writing a registration over an earlier one: none yet, or one that is over or pending."""
    earlier = (*rules.ENDED, rules.PENDING)
    return ("attribute_not_exists(PK) OR #s IN (" + ", ".join(f":e{i}" for i in range(len(earlier))) + ")",
            {f":e{i}": s for i, s in enumerate(earlier)})


def put_request(item: dict) -> bool:
    """A pending request, unless the address has a registration that is not over (False then)."""
    condition, values = _replaceable()
    return dynamo.put_if(Item=item, ConditionExpression=condition, ExpressionAttributeNames={"#s": "status"},
                         ExpressionAttributeValues=values)


def forget_access_needs(event_id: str, rid: str) -> None:
    aws.table().update_item(
        Key=keys.registration(event_id, rid), UpdateExpression="SET access_needs_deleted_at = :now REMOVE access_needs",
        ExpressionAttributeValues={":now": clock.iso()})


def anonymise(event_id: str, rid: str) -> None:
    aws.table().update_item(
        Key=keys.registration(event_id, rid),
        UpdateExpression="SET #n = :anon, email = :anon, anonymised_at = :now "
                         "REMOVE access_needs, access_consent, GSI2PK, GSI2SK",
        ExpressionAttributeNames={"#n": "name"},
        ExpressionAttributeValues={":anon": "(anonymised)", ":now": clock.iso()})


# ---------------------------------------------------------------- the items of transactions

_EVENT_ATTRIBUTES = re.compile(r"(?<![:#\w])(waiting_list|mode|free|held|confirmed|waiting|limited|version|capacity)\b")


def named(*expressions: str) -> tuple[list[str], dict]:
    """Event attribute names (some are DynamoDB reserved words) as #placeholders, plus "#s" for status."""
    rewritten = [_EVENT_ATTRIBUTES.sub(lambda m: "#" + m.group(1), e) for e in expressions]
    names = {"#" + n: n for e in expressions for n in _EVENT_ATTRIBUTES.findall(e)}
    if any("#s " in e or e.endswith("#s") or "#s," in e for e in rewritten):
        names["#s"] = "status"
    return rewritten, names


def event_change(event_id: str, add: dict[str, int], condition: str, values: dict) -> dynamo.Op:
    """One update of the event's counters, guarded by `condition` (with "#s" meaning status)."""
    values = {**values, **{f":d_{k}": v for k, v in add.items()}}
    (expression, condition), names = named("ADD " + ", ".join(f"{k} :d_{k}" for k in add), condition)
    return dynamo.update(keys.event(event_id), expression, condition, names, values, label=EVENT)


def registration_change(event_id: str, rid: str, new_status: str, condition: str, values: dict,
                        extra_set: str = "", remove: str = "", label: str = REGISTRATION) -> dynamo.Op:
    now = clock.iso()
    if new_status in rules.ENDED:  # someone who is no longer coming needs no arrangements: forget them now
        remove = ", ".join(filter(None, [remove, "access_needs, access_consent"]))
    expression = (f"SET #s = :new, updated_at = :now, history = list_append(history, :h){extra_set}"
                  + (f" REMOVE {remove}" if remove else ""))
    return dynamo.update(keys.registration(event_id, rid), expression, condition, {"#s": "status"},
                         {**values, ":new": new_status, ":now": now, ":h": [{"status": new_status, "at": now}]},
                         label=label)


def offer_change(event: dict, reg: dict) -> dynamo.Op:
    """The waiting registration `reg` becomes an offer, open for settings.offer_window_hours at most."""
    event_id = event["event_id"]
    expiry = clock.now() + timedelta(hours=get_settings().offer_window_hours)
    if event.get("starts_at"):  # an offer never outlives the start of the event
        expiry = min(expiry, clock.parse_iso(event["starts_at"]))
    expires_at = clock.iso(expiry)
    index = keys.offer_index(expires_at, event_id, reg["registration_id"])
    return registration_change(
        event_id, reg["registration_id"], "offered", "#s = :waiting",
        {":waiting": "waiting", ":exp": expires_at, ":gpk": index["GSI2PK"], ":gsk": index["GSI2SK"]},
        extra_set=", offer_expires_at = :exp, GSI2PK = :gpk, GSI2SK = :gsk", label=OFFER)


def new_registration(item: dict, request_nonce: str = "") -> dynamo.Op:
    """Writing a registration: over the pending request carrying `request_nonce`, or else over none
    or one that is over."""
    if request_nonce:  # the pending request this confirms, and only while it is still pending
        return dynamo.put(item, "#s = :pending AND request_nonce = :n", {"#s": "status"},
                          {":pending": rules.PENDING, ":n": request_nonce}, label=REGISTRATION)
    condition, values = _replaceable()
    return dynamo.put(item, condition, {"#s": "status"}, values, label=REGISTRATION)


def pause(attempt: int) -> None:
    """A short, growing, jittered wait before trying a refused transaction again."""
    time.sleep(min(0.2, 0.005 * (attempt + 1)) * (0.5 + secrets.randbelow(100) / 100))
