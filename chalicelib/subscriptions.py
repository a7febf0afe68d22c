"""Subscribers: double opt-in, preferences, one-click unsubscribe, export, erasure, suppression."""
from __future__ import annotations

import json
import re
import uuid
from dataclasses import asdict, dataclass
from typing import Iterator

from chalicelib import aws, clock, dynamo, emails, forms, keys, ratelimit, tokens
from chalicelib import links as urls  # links() below is the subscriber's pair of links
from chalicelib.errors import Conflict, ExpiredToken, InvalidToken, NotFound, ValidationError
from chalicelib.forms import clean_line, str_list, ticked
from chalicelib.models import Field, Model
from chalicelib.observability import count, logger
from chalicelib.wiring import Metric
from chalicelib.signing_secret import keyed_hash
from chalicelib.settings import get_settings
from chalicelib.suppressions import DynamoSuppressionStore, SuppressionStore

TOPICS = {
    "newsletter": "The monthly #PeerTalk newsletter",
    "events": "Event and training announcements",
}
STATUSES = ("pending", "confirmed", "unsubscribed")
CONSENT_VERSION = "subscribe-2026-11"
CONSENT_WORDING = {
    CONSENT_VERSION: (
        "I agree to PeerPost emailing me the topics I have chosen. I can change my choices or "
        "unsubscribe at any time using the link in every email."
    ),
}
PREFERENCES_LINK_DAYS = 90
MAX_NAME = 80
# Suppressed for these reasons, an address gets no mail at all, not even a confirmation.
HARD_SUPPRESSION = {"bounce", "complaint", "manual"}
SUPPRESSION_KINDS = {"bounce": "Hard bounce", "complaint": "Spam complaint", "erased": "Erased",
                     "manual": "Stopped by a coordinator"}
LIFTABLE = ("bounce", "manual")  # a complaint or an erasure is the person's own word: never lifted here


SUBSCRIBE_MODEL = Model("Subscribe", (
    Field("email", required=True, max_length=254, format="email"),
    Field("first_name", max_length=MAX_NAME),
    Field("topics", "array", required=True, max_length=len(TOPICS), enum=tuple(TOPICS)),
    Field("consent", "boolean", required=True, description="Agreement to the wording of consent_version"),
    Field("consent_version", max_length=64, enum=tuple(CONSENT_WORDING)),
    Field("submission", max_length=64, description="An id for this filled-in form: sent twice, it acts once"),
))
MANAGE_LINK_MODEL = Model("ManageLink", (
    Field("email", required=True, max_length=254, format="email"),
    Field("submission", max_length=64, description="An id for this filled-in form: sent twice, it acts once"),
))
_SUBMISSION = re.compile(r"[A-Za-z0-9_-]{8,64}")
_SIGNUP_EXPIRED = "This sign-up link has expired or is no longer valid. Please subscribe again and we will send a new link."


@dataclass(frozen=True)
class SubscribeRequest:
    email: str
    first_name: str
    topics: tuple[str, ...]
    consent: bool
    consent_version: str
    method: str  # "form" or "api"
    submission: str = ""  # the form's id: a second delivery of the same form acts no more
    source: str = ""  # added by a coordinator: where the person asked to join, in the coordinator's words
    added_by: str = ""


def new_submission() -> str:
    return uuid.uuid4().hex


def submission_of(data: dict) -> str:
    value = data.get("submission")
    return value if isinstance(value, str) and _SUBMISSION.fullmatch(value) else ""


def email_id(email: str) -> str:
    return keyed_hash("email", forms.address_key(email))




def parse_subscribe(data: dict, method: str) -> SubscribeRequest:
    errors: dict[str, str] = {}
    email = ""
    try:
        email = forms.email_address(str(data.get("email", "")))
    except ValidationError as exc:
        errors.update(exc.errors)
    first_name = clean_line(data.get("first_name"))
    if len(first_name) > MAX_NAME:
        errors["first_name"] = f"Use at most {MAX_NAME} characters."
    topics = tuple(dict.fromkeys(str_list(data.get("topics"))))
    if not topics:
        errors["topics"] = "Choose at least one thing to hear about."
    elif any(t not in TOPICS for t in topics):
        errors["topics"] = "Choose from the topics listed."
    consent = ticked(data.get("consent"))
    if not consent:
        errors["consent"] = "Tick the box to agree, so we can email you."
    version = str(data.get("consent_version") or CONSENT_VERSION)
    if version not in CONSENT_WORDING:
        errors["consent"] = "The wording of this form has changed. Please read it again and tick the box."
    if errors:
        raise ValidationError(errors)
    return SubscribeRequest(email, first_name, topics, consent, version, method, submission_of(data))


# A confirm or preferences link names the subscriber and the nonce of the subscription it was issued
# for. Erasure deletes the nonce with the item, and a sign-up after it draws a new one, so links from
# before an erasure never open the new subscription. Items and links from before nonces existed have
# the nonce "" (and links carry the bare id). Unsubscribe links carry the id alone on purpose: any
# unsubscribe link ever sent to an address goes on stopping mail to it, and it shows nothing.
def _bound(sid: str, nonce: str) -> str | list[str]:
    return [sid, nonce] if nonce else sid


def _holder(purpose: str, token: str, max_age_seconds: int | None = None) -> tuple[str, dict | None]:
    """The subscriber id a link names, and the item it was issued for (None if that data is gone)."""
    payload = tokens.verify(purpose, token, max_age_seconds=max_age_seconds)
    if isinstance(payload, str):
        sid, nonce = payload, ""
    elif isinstance(payload, list) and len(payload) == 2 and all(isinstance(p, str) for p in payload):
        sid, nonce = payload
    else:
        raise InvalidToken("This link is incomplete or has been changed. Please use the link from your email.")
    item = load(sid)
    if item is not None and item.get("link_nonce", "") != nonce:
        item = None  # issued for data that was erased; the item now is someone's fresh sign-up
    return sid, item


def links(sid: str, nonce: str | None = None) -> dict[str, str]:
    """A subscriber's preferences and unsubscribe URLs. Pass the item's `link_nonce` (or "" if it has
    none); without it, it is read from the table."""
    if nonce is None:
        nonce = (load(sid) or {}).get("link_nonce", "")
    return {"preferences_url": urls.preferences(_bound(sid, nonce)), "unsubscribe_url": urls.unsubscribe(sid)}


def links_for(item: dict) -> dict[str, str]:
    return links(keys.subscriber_id(item), item.get("link_nonce", ""))


def load(sid: str) -> dict | None:
    return aws.table().get_item(Key=keys.subscriber(sid)).get("Item")


def suppression_of(sid: str, store: SuppressionStore | None = None) -> dict | None:
    return (store or DynamoSuppressionStore()).get(sid)


def subscribe(request: SubscribeRequest, client: str) -> None:
    """Accept a sign-up. The caller's answer, and how long it takes, never depend on the address:
    the web request checks only the per-client limit and queues the rest (process_signup)."""
    settings = get_settings()
    ratelimit.enforce("subscribe-client", client, settings.rate_limit_per_client_per_hour)
    _queue({"kind": "subscribe", "request": asdict(request)})


def process_signup(request: SubscribeRequest) -> None:
    """Start (or restart) double opt-in, off the web request: whatever the address's state."""
    settings = get_settings()
    if not ratelimit.allow("subscribe-address", request.email, settings.rate_limit_per_address_per_hour):
        return  # list-bombing one address: silently send nothing more
    sid = email_id(request.email)
    suppressed = suppression_of(sid)
    if suppressed and suppressed.get("reason") in HARD_SUPPRESSION:
        return
    existing = load(sid)
    if existing and existing["status"] == "confirmed":
        if request.submission and not _first_delivery(sid, "last_submission", request.submission):
            return
        count(Metric.SIGN_UPS)
        emails.send(request.email, "already_subscribed", "You are already subscribed",
                    purpose="already-subscribed", first_name=existing.get("first_name", ""), **links_for(existing))
        return

    now = clock.now()
    consent = {
        "wording_version": request.consent_version,
        "method": request.method,
        "given_at": clock.iso(now),
        "confirmed_at": None,
        "withdrawn_at": None,
        **({"source": request.source, "by": request.added_by} if request.source else {}),
    }
    history = (existing or {}).get("consent_history", [])
    # Data already held keeps its nonce (its links stay good); a sign-up with nothing held gets a new one.
    nonce = existing.get("link_nonce", "") if existing else uuid.uuid4().hex
    condition = {}
    if request.submission:
        condition = {"ConditionExpression": "attribute_not_exists(last_submission) OR last_submission <> :sub",
                     "ExpressionAttributeValues": {":sub": request.submission}}
    item = {
        **keys.subscriber(sid),
        **keys.subscriber_index("pending", clock.iso(now), sid),
        **(keys.subscriber_name_index(request.first_name, sid) if request.first_name else {}),
        "email": request.email,
        "first_name": request.first_name,
        "topics": list(request.topics),
        "status": "pending",
        "created_at": (existing or {}).get("created_at", clock.iso(now)),
        "consent": consent,
        "consent_history": [*history, {"event": "given", **consent}],
        "soft_bounces": 0,
        "expires_at": int(now.timestamp()) + settings.pending_expiry_hours * 3600,
        "link_nonce": nonce,
        **({"tags": existing["tags"]} if existing and existing.get("tags") else {}),  # a coordinator's, kept
    }
    if request.submission:
        item["last_submission"] = request.submission
    if not dynamo.put_if(Item=item, **condition):
        return  # this very form was already acted on (a double press, or SQS delivering twice)
    count(Metric.SIGN_UPS)
    _send_confirmation(item)


def _send_confirmation(item: dict) -> None:
    settings = get_settings()
    confirm_url = urls.confirm(_bound(keys.subscriber_id(item), item.get("link_nonce", "")))
    emails.send(item["email"], "confirm", "Please confirm your subscription", purpose="confirm",
                first_name=item.get("first_name", ""), confirm_url=confirm_url,
                topics=[TOPICS[t] for t in item["topics"]], expiry_hours=settings.pending_expiry_hours)


send_confirmation = _send_confirmation  # chalicelib.imports sends re-permission the same email


def resend_confirmation(sid: str, submission: str = "") -> bool:
    """A coordinator sends a pending sign-up a fresh confirmation link (the time to confirm starts
    again). False, and nothing sent, unless they are waiting to confirm and their address is mailable,
    or if this very form was already acted on."""
    item = load(sid)
    suppressed = suppression_of(sid)
    if not item or item["status"] != "pending" or (suppressed and suppressed.get("reason") in HARD_SUPPRESSION):
        return False
    if submission and not _first_delivery(sid, "last_resend_submission", submission):
        return False
    if not dynamo.update_if(
        Key=keys.subscriber(sid), UpdateExpression="SET expires_at = :e",
        ConditionExpression="#s = :pending", ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":pending": "pending",
                                   ":e": clock.epoch() + get_settings().pending_expiry_hours * 3600}):
        return False  # confirmed or purged meanwhile
    _send_confirmation(item)
    return True


def _first_delivery(sid: str, attribute: str, submission: str) -> bool:
    """Record that this form was acted on for an existing subscriber; False if it already was."""
    if not dynamo.update_if(
        Key=keys.subscriber(sid), UpdateExpression="SET #a = :sub",
        ConditionExpression="attribute_exists(PK) AND (attribute_not_exists(#a) OR #a <> :sub)",
        ExpressionAttributeNames={"#a": attribute}, ExpressionAttributeValues={":sub": submission}):
        return False
    return True


def _signup(token: str) -> tuple[str, dict]:
    """The sign-up a confirm link was issued for, if it can still be confirmed (or already is)."""
    try:
        sid, item = _holder(urls.Purpose.CONFIRM, token, max_age_seconds=get_settings().pending_expiry_hours * 3600)
    except ExpiredToken as exc:
        raise ExpiredToken(_SIGNUP_EXPIRED) from exc
    if not item or item["status"] == "unsubscribed":
        raise ExpiredToken(_SIGNUP_EXPIRED)
    if item["status"] == "pending" and int(item.get("expires_at", 0)) < clock.epoch():
        raise ExpiredToken(_SIGNUP_EXPIRED)
    return sid, item


def confirm_status(token: str) -> str:
    """What a confirm link would do, changing nothing: "pending" (it can confirm) or "confirmed"."""
    return _signup(token)[1]["status"]


def confirm(token: str) -> dict:
    """Confirm a pending sign-up. Idempotent: a second click changes nothing and sends nothing."""
    sid, item = _signup(token)
    if item["status"] == "confirmed":
        return item
    now = clock.iso()
    if not dynamo.update_if(
        Key=keys.subscriber(sid),
        UpdateExpression=(
            "SET #s = :confirmed, confirmed_at = :now, consent.confirmed_at = :now, "
            "GSI1PK = :pk, GSI1SK = :sk, consent_history = list_append(consent_history, :event) "
            "REMOVE expires_at"
        ),
        ConditionExpression="#s = :pending AND link_nonce = :nonce" if "link_nonce" in item else "#s = :pending",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={
            ":confirmed": "confirmed", ":pending": "pending", ":now": now,
            ":pk": keys.subscribers_by_status("confirmed"), ":sk": keys.subscriber_index("confirmed", item["created_at"], sid)["GSI1SK"],
            ":event": [{"event": "confirmed", "at": now}],
            **({":nonce": item["link_nonce"]} if "link_nonce" in item else {}),
        },
    ):
        return _signup(token)[1]  # a concurrent click confirmed it first (or it is gone: an error)
    DynamoSuppressionStore().delete(sid)  # a fresh opt-in lifts an erasure or opt-out
    count_month("joined")
    count(Metric.CONFIRMATIONS)
    emails.send(item["email"], "welcome", "Welcome to #PeerTalk", purpose="welcome",
                first_name=item.get("first_name", ""), topics=[TOPICS[t] for t in item["topics"]],
                **links_for(item))
    return {**item, "status": "confirmed"}


def _from_preferences_token(token: str) -> tuple[str, dict]:
    try:
        sid, item = _holder(urls.Purpose.PREFERENCES, token, max_age_seconds=PREFERENCES_LINK_DAYS * 86400)
    except ExpiredToken as exc:
        raise ExpiredToken("This preferences link has expired. Ask for a new one at /preferences "
                           "and we will email it to you.") from exc
    if not item:
        raise NotFound("We hold no data for this link: it may have been erased. If you have subscribed "
                       "since, ask for a new link at /preferences.")
    return sid, item


def preferences(token: str) -> dict:
    return _from_preferences_token(token)[1]


def holds_data(token: str) -> bool:
    """Whether a (genuine) preferences link still opens data; False once it is erased."""
    try:
        _from_preferences_token(token)
    except NotFound:
        return False
    return True


def parse_preferences(data: dict) -> tuple[str, list[str]]:
    first_name = clean_line(data.get("first_name"))
    topics = list(dict.fromkeys(str_list(data.get("topics"))))
    errors = {}
    if len(first_name) > MAX_NAME:
        errors["first_name"] = f"Use at most {MAX_NAME} characters."
    if any(t not in TOPICS for t in topics):
        errors["topics"] = "Choose from the topics listed."
    if errors:
        raise ValidationError(errors)
    return first_name, topics


def update_preferences(token: str, data: dict) -> str:
    """Save a preferences form; returns what happened: "saved", "unchanged", "unsubscribed" (nothing
    ticked) or "saved-not-subscribed" (saved, but saving never re-subscribes anyone)."""
    sid, item = _from_preferences_token(token)
    first_name, topics = parse_preferences(data)
    if item["status"] == "pending":
        raise Conflict("Your sign-up is not confirmed yet. Press the link in the confirmation email first.")
    if not topics:
        if item["status"] == "confirmed":
            _unsubscribe(sid, item, "preferences")
        return "unsubscribed"
    # After an unsubscribe, a bounce or a complaint, only a fresh double opt-in re-subscribes.
    subscribed = item["status"] == "confirmed"
    if first_name == item.get("first_name", "") and topics == list(item.get("topics", [])):
        return "unchanged" if subscribed else "saved-not-subscribed"  # a second press adds nothing
    now = clock.iso()
    values = {":n": first_name, ":t": topics, ":now": now,
              ":event": [{"event": "preferences-changed", "at": now, "topics": topics}]}
    update = ("SET first_name = :n, topics = :t, updated_at = :now, "
              "consent_history = list_append(consent_history, :event)")
    if first_name:  # the name search follows the name
        index = keys.subscriber_name_index(first_name, sid)
        update += ", GSI2PK = :npk, GSI2SK = :nsk"
        values.update({":npk": index["GSI2PK"], ":nsk": index["GSI2SK"]})
    else:
        update += " REMOVE GSI2PK, GSI2SK"
    aws.table().update_item(Key=keys.subscriber(sid), UpdateExpression=update, ExpressionAttributeValues=values)
    return "saved" if subscribed else "saved-not-subscribed"


def unsubscribe_status(token: str) -> str:
    """Whether an unsubscribe link's address is still mailed ("subscribed") or not, changing nothing."""
    item = load(tokens.verify(urls.Purpose.UNSUBSCRIBE, token))
    return "subscribed" if item and item["status"] != "unsubscribed" else "unsubscribed"


def unsubscribe(token: str, method: str) -> None:
    """One-click unsubscribe. Unknown or already-erased subscribers are a quiet success."""
    sid = tokens.verify(urls.Purpose.UNSUBSCRIBE, token)
    item = load(sid)
    if item and item["status"] != "unsubscribed":
        _unsubscribe(sid, item, method)


def unsubscribe_for(sid: str, reason: str, by: str) -> bool:
    """A coordinator unsubscribes someone at their request; the reason is kept in the consent history.
    False if they were not subscribed (a second press changes nothing)."""
    item = load(sid)
    if not item or item["status"] == "unsubscribed":
        return False
    _unsubscribe(sid, item, "coordinator", reason=reason, by=by)
    return True


def count_month(field: str, by: int = 1) -> None:
    """Add to this month's joined or left count (the overview's growth chart): one small write."""
    month = f"{clock.in_london(clock.now()):%Y-%m}"
    aws.table().update_item(Key=keys.month_stats(month), UpdateExpression="ADD #f :n",
                            ExpressionAttributeNames={"#f": field}, ExpressionAttributeValues={":n": by})


def _left(item: dict) -> None:
    """Someone confirmed stopped being subscribed: counted this month, and against the latest issue."""
    from chalicelib import send_run  # which imports subscriptions: imported on use

    if item.get("status") == "confirmed":
        count_month("left")
        send_run.count_on_latest("unsubscribes")


def _unsubscribe(sid: str, item: dict, method: str, **details: str) -> None:
    _left(item)
    now = clock.iso()
    aws.table().update_item(
        Key=keys.subscriber(sid),
        UpdateExpression=(
            "SET #s = :u, unsubscribed_at = :now, consent.withdrawn_at = :now, GSI1PK = :pk, "
            "consent_history = list_append(consent_history, :event)"
        ),
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={
            ":u": "unsubscribed", ":now": now, ":pk": keys.subscribers_by_status("unsubscribed"),
            ":event": [{"event": "withdrawn", "at": now, "method": method, **details}],
        },
    )
    count(Metric.UNSUBSCRIBES)
    logger().info("subscriber unsubscribed", extra={"method": method})


def export(token: str) -> dict:
    """Everything PeerPost holds about this subscriber (right of access)."""
    return export_of(_from_preferences_token(token)[1])


def export_of(item: dict) -> dict:
    fields = ("email", "first_name", "topics", "status", "created_at", "confirmed_at",
              "unsubscribed_at", "paused_until", "consent", "consent_history", "soft_bounces")
    data = {k: item[k] for k in fields if k in item}
    from chalicelib.audience import names_of  # audience reads subscriptions: imported on use

    data["tags"] = names_of(item.get("tags", ()))
    data["consent_wording"] = CONSENT_WORDING.get(item["consent"]["wording_version"], "")
    return data


def erase(token: str) -> None:
    """Right to erasure: delete the subscriber; keep only a hashed suppression entry."""
    erase_subscriber(_from_preferences_token(token)[0])


def erase_subscriber(sid: str) -> None:
    """Delete everything held about a subscriber but a hashed suppression entry (by them or for them)."""
    store = DynamoSuppressionStore()
    suppressed = store.get(sid)
    if not (suppressed and suppressed.get("reason") in HARD_SUPPRESSION):  # a bounce or complaint stays
        store.put(sid, "erased", clock.iso())
    old = aws.table().delete_item(Key=keys.subscriber(sid), ReturnValues="ALL_OLD").get("Attributes")
    if old:
        _left(old)
    logger().info("subscriber erased")


PAUSED = "paused for now, at their request"


def not_mailable(item: dict | None, topics, now_iso: str = "") -> str:
    """The one rule for mail a person signed up for: why `item` must not get mail on any of `topics`
    now, or "" if it may. A suppression (bounce, complaint) always unsubscribes too and erasure deletes
    the item, so the item alone decides. PAUSED means they stay subscribed and miss only this send."""
    if not item:
        return "no longer subscribed (erased)"
    if item.get("status") != "confirmed":
        return f"no longer subscribed ({item.get('status')})"
    if not set(topics) & set(item.get("topics", ())):
        return "no longer wants " + " or ".join(TOPICS.get(t, t).lower() for t in topics)
    if is_paused(item, now_iso):
        return PAUSED
    return ""


def is_mailable(sid: str, topic: str) -> bool:
    return not not_mailable(load(sid), (topic,)) and not suppression_of(sid)


# ---------------------------------------------------------------- a pause

PAUSE_MONTHS = (1, 3, 6)


def is_paused(item: dict, now_iso: str = "") -> bool:
    """Paused until a moment still ahead: a pause ends by itself, with nothing to run."""
    return str(item.get("paused_until") or "") > (now_iso or clock.iso())


def pause_end(months: int, start=None):
    from dateutil.relativedelta import relativedelta  # calendar months (31 January + 1 month = 28 February)

    return (start or clock.now()) + relativedelta(months=months)


def parse_pause(data: dict) -> int:
    raw = str(data.get("months", ""))
    if not raw.isdigit() or int(raw) not in PAUSE_MONTHS:
        raise ValidationError({"months": "Choose how long to pause for: 1, 3 or 6 months."})
    return int(raw)


def pause(token: str, months: int) -> str:
    """Pause all newsletter and announcement email for some months; a new pause replaces the old one.
    Returns when it ends (UTC ISO)."""
    sid, item = _from_preferences_token(token)
    if item["status"] != "confirmed":
        raise Conflict("Only a confirmed subscription can be paused: we send you nothing now.")
    now = clock.now()
    until = clock.iso(pause_end(months, now))
    aws.table().update_item(
        Key=keys.subscriber(sid),
        UpdateExpression="SET paused_until = :u, consent_history = list_append(consent_history, :event)",
        ExpressionAttributeValues={":u": until,
                                   ":event": [{"event": "paused", "at": clock.iso(now), "until": until}]})
    logger().info("subscriber paused", extra={"months": months})
    return until


def resume(token: str) -> bool:
    """End a pause now. False (nothing written) if they were not paused: a second press adds nothing."""
    sid, item = _from_preferences_token(token)
    now = clock.iso()
    if not dynamo.update_if(
        Key=keys.subscriber(sid),
        UpdateExpression="REMOVE paused_until SET consent_history = list_append(consent_history, :event)",
        ConditionExpression="paused_until > :now",
        ExpressionAttributeValues={":now": now, ":event": [{"event": "resumed", "at": now}]}):
        return False
    logger().info("subscriber resumed")
    return True


def suppress(email: str, reason: str, store: SuppressionStore | None = None) -> bool:
    """Stop all mail to a known address (hard bounce, complaint). False for unknown addresses."""
    sid = email_id(email)
    item = load(sid)
    if not item:
        return False
    (store or DynamoSuppressionStore()).put(sid, reason, clock.iso())
    _mark_suppressed(sid, reason)
    _unsubscribe(sid, item, reason) if item["status"] != "unsubscribed" else None
    return True


def _mark_suppressed(sid: str, reason: str | None) -> None:
    """The subscriber item says it is suppressed too, so the subscribers page can filter by it."""
    update = ("SET suppressed = :r", {":r": reason}) if reason else ("REMOVE suppressed", {})
    dynamo.update_if(Key=keys.subscriber(sid), UpdateExpression=update[0], ConditionExpression="attribute_exists(PK)",
                     **({"ExpressionAttributeValues": update[1]} if update[1] else {}))


def suppress_by_hand(raw_email: str, note: str, by: str, store: SuppressionStore | None = None) -> str:
    """A coordinator stops all mail to an address (someone asked never to be emailed, say), whether or
    not it is on the list. Only its keyed hash is kept, with the note. Returns the subscriber id."""
    store = store or DynamoSuppressionStore()
    email = forms.email_address(raw_email)
    sid = email_id(email)
    existing = store.get(sid)
    if existing and existing.get("reason") in HARD_SUPPRESSION:
        return sid  # already stopped: the first reason stays
    store.put(sid, "manual", clock.iso(), note=note, by=by)
    item = load(sid)
    if item:
        _mark_suppressed(sid, "manual")
        if item["status"] != "unsubscribed":
            _unsubscribe(sid, item, "coordinator", reason=note, by=by)
    logger().info("address suppressed by a coordinator")
    return sid


def lift_suppression(sid: str, reason: str, by: str, store: SuppressionStore | None = None) -> bool:
    """Let a bounced (or coordinator-stopped) address be mailed again, with a written reason kept in
    the person's consent history. They stay unsubscribed; signing up again is up to them. False if
    there was no such suppression (a second press)."""
    old = (store or DynamoSuppressionStore()).delete_if(sid, LIFTABLE)
    if old is None:
        return False
    _mark_suppressed(sid, None)
    if load(sid):
        now = clock.iso()
        aws.table().update_item(
            Key=keys.subscriber(sid), UpdateExpression="SET consent_history = list_append(consent_history, :e)",
            ExpressionAttributeValues={":e": [{"event": "suppression-lifted", "at": now, "reason": reason, "by": by,
                                               "method": old["reason"]}]})
    logger().info("suppression lifted")
    return True


SUPPRESSIONS_PAGE = 50


def suppressions(cursor: dict | None = None, store: SuppressionStore | None = None) -> tuple[list[dict], dict | None]:
    """One page of suppressions, newest first, each with the person's item if data is still held."""
    page, last = (store or DynamoSuppressionStore()).newest(SUPPRESSIONS_PAGE, cursor)
    ids = [sid for sid, _ in page]
    held = {}
    if ids:
        found = dynamo.batch_get(aws.dynamodb_client(), get_settings().table_name,
                                 [dynamo.serialise(keys.subscriber(sid)) for sid in ids],
                                 ProjectionExpression="PK, email, first_name")
        held = {keys.subscriber_id(person): person for person in map(dynamo.deserialise, found)}
    rows = [{**record, "sid": sid, "person": held.get(sid)} for sid, record in page]
    return rows, last


def record_soft_bounce(email: str) -> bool:
    sid = email_id(email)
    if not load(sid):
        return False
    aws.table().update_item(Key=keys.subscriber(sid), UpdateExpression="ADD soft_bounces :one",
                            ExpressionAttributeValues={":one": 1})
    return True


def is_suppressed(sid: str, store: SuppressionStore | None = None) -> bool:
    return suppression_of(sid, store) is not None


def iter_by_status(status: str, page_size: int = 500) -> Iterator[dict]:
    """Page through one status without loading the whole list."""
    from boto3.dynamodb.conditions import Key

    yield from dynamo.query_items(IndexName="GSI1", Limit=page_size,
                               KeyConditionExpression=Key("GSI1PK").eq(keys.subscribers_by_status(status)))


def counts_by_status() -> dict[str, int]:
    from boto3.dynamodb.conditions import Key

    return {status: dynamo.query_count(IndexName="GSI1",
                                    KeyConditionExpression=Key("GSI1PK").eq(keys.subscribers_by_status(status)))
            for status in STATUSES}


def export_csv() -> str:
    from chalicelib import spreadsheet

    return spreadsheet.write(
        ["email", "first_name", "status", "topics", "created_at", "confirmed_at", "consent_version", "consent_method"],
        ([item["email"], item.get("first_name", ""), item["status"], " ".join(item.get("topics", [])),
          item.get("created_at", ""), item.get("confirmed_at", ""), item["consent"]["wording_version"],
          item["consent"]["method"]] for status in STATUSES for item in iter_by_status(status)))


def purge_expired_pending() -> int:
    """Delete sign-ups never confirmed in time (DynamoDB TTL does this in AWS, but late and not in moto)."""
    now, purged = clock.epoch(), 0
    for item in iter_by_status("pending"):
        if int(item.get("expires_at", 0)) < now and dynamo.delete_if(
                Key=keys.subscriber(keys.subscriber_id(item)), ConditionExpression="#s = :pending",
                ExpressionAttributeNames={"#s": "status"}, ExpressionAttributeValues={":pending": "pending"}):
            purged += 1  # a person who confirmed meanwhile is kept
    return purged


def send_manage_link(raw_email: str, client: str, submission: str = "") -> None:
    """Email a fresh preferences link, if we hold data for the address. The caller always sees the
    same, as fast: the request is queued (process_manage_link)."""
    settings = get_settings()
    email = forms.email_address(raw_email)
    ratelimit.enforce("manage-link-client", client, settings.rate_limit_per_client_per_hour)
    _queue({"kind": "manage_link", "email": email, "submission": submission})


def process_manage_link(email: str, submission: str = "") -> None:
    """Anyone whose data is held may see, download or erase it, subscribed or not (UK GDPR Art 15,
    17). Only an address that bounced or complained gets no mail at all."""
    settings = get_settings()
    if not ratelimit.allow("manage-link-address", email, settings.rate_limit_per_address_per_hour):
        return
    sid = email_id(email)
    item = load(sid)
    if not item:
        return
    suppressed = suppression_of(sid)
    if suppressed and suppressed.get("reason") in HARD_SUPPRESSION:
        return
    if submission and not _first_delivery(sid, "last_link_submission", submission):
        return
    found = links_for(item)
    emails.send(item["email"], "manage_link", "Your #PeerTalk preferences link", purpose="manage-link",
                first_name=item.get("first_name", ""), status=item["status"],
                preferences_url=found["preferences_url"],
                unsubscribe_url=found["unsubscribe_url"] if item["status"] == "confirmed" else "")


def _queue(body: dict) -> None:
    aws.sqs().send_message(QueueUrl=aws.queue_url(get_settings().signup_queue), MessageBody=json.dumps(body))


def handle_signups(event: dict, context) -> dict:
    """The signups queue, failures reported one by one. SQS may, rarely, deliver a message twice: the
    person then gets a second copy of the same confirmation or link, and the per-address limit
    still holds."""
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    def one(record) -> None:  # powertools passes it by this name
        body = json.loads(record.body)
        if body["kind"] == "subscribe":
            request = body["request"]
            process_signup(SubscribeRequest(**{**request, "topics": tuple(request["topics"])}))
        else:
            process_manage_link(body["email"], body.get("submission", ""))

    processor = BatchProcessor(EventType.SQS, raise_on_entire_batch_failure=False)
    return process_partial_response(event=event, record_handler=one, processor=processor, context=context)
