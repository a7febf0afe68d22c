"""The newsletter send pipeline: dispatch (render once, page the audience, queue recipient batches)
and send (claim each delivery, personalise by substitution, SES, record the outcome).

Guarantees, and how:
- at most one copy per (issue, recipient): a delivery record claimed by a conditional write
  before the SES call;
- every recipient ends sent, failed (with a reason) or suppressed: outcomes are written in
  batches, then the issue's counters once per queue message, idempotently (the message's key
  joins a set in the same update), so retries and duplicates never count anyone twice; a claim
  left "sending" by a crashed attempt is, once its lease is over, recorded as failed ("outcome
  unknown") rather than resent, because SES may have accepted it. (No transactions: they cost
  two writes per item in DynamoDB, and moto copies the whole table for each one.)
- flat memory: the audience is paged (GSI1) and each queue message carries 50 recipient ids.
"""
from __future__ import annotations

import functools
import json
import threading
import time
import uuid
import zlib
from dataclasses import dataclass
from typing import Callable

from chalicelib import aws, clock, issues, keys, mail, newsletter, subscriptions
from chalicelib.errors import SendThrottled
from chalicelib.observability import count, logger
from chalicelib.settings import get_settings

RECIPIENTS_PER_MESSAGE = 100  # one BatchGetItem (100 keys), four BatchWriteItems, one counter update
AUDIENCE_PAGE = 1000
LEASE_SECONDS = 180  # the send queue's visibility timeout: an older "sending" claim's attempt is over
GIVE_UP_AFTER_RECEIVES = 5  # below the queue's maxReceiveCount (8): failures get a reason, not the DLQ
STOP_WITH_MS_LEFT = 15_000
TOPIC = "newsletter"
FINAL = ("sent", "failed", "suppressed")


class RetryLater(Exception):
    """Some recipients of this queue message must be tried again (throttled, or being sent elsewhere)."""


# ---------------------------------------------------------------- dispatch


def dispatch(issue_id: str) -> None:
    """Render once, then queue the audience page by page, resuming where a crashed attempt stopped."""
    from botocore.exceptions import ClientError

    issue = issues.get(issue_id)
    if issue["status"] != "sending" or issue.get("dispatched"):
        return  # a duplicate dispatch message, or a finished one
    store_rendered(issue)
    cursor = issue.get("dispatch_cursor")
    settings = get_settings()
    sqs, queue = aws.sqs(), aws.queue_url(settings.send_queue)
    while True:
        page = _audience_page(json.loads(cursor) if cursor else None)
        ids = [keys.subscriber_id(item) for item in page["Items"] if TOPIC in item.get("topics", ())]
        _enqueue(sqs, queue, issue_id, ids)
        next_cursor = json.dumps(page["LastEvaluatedKey"]) if "LastEvaluatedKey" in page else None
        try:
            _advance(issue_id, cursor, next_cursor, len(ids))
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return  # a concurrent duplicate dispatch moved on first: it owns the rest
            raise
        cursor = next_cursor
        if cursor is None:
            break
    logger().info("issue dispatched", extra={"issue_id": issue_id})
    complete_if_done(issue_id)


def _audience_page(start: dict | None) -> dict:
    from boto3.dynamodb.conditions import Key

    kwargs = {"IndexName": "GSI1", "Limit": AUDIENCE_PAGE,
              "KeyConditionExpression": Key("GSI1PK").eq(keys.subscribers_by_status("confirmed")),
              "ProjectionExpression": "PK, topics"}
    if start:
        kwargs["ExclusiveStartKey"] = start
    return aws.table().query(**kwargs)


def _enqueue(sqs, queue: str, issue_id: str, ids: list[str]) -> None:
    batches = [ids[i:i + RECIPIENTS_PER_MESSAGE] for i in range(0, len(ids), RECIPIENTS_PER_MESSAGE)]
    for start in range(0, len(batches), 10):
        entries = [{"Id": str(n), "MessageBody": json.dumps({"issue_id": issue_id, "recipients": batch})}
                   for n, batch in enumerate(batches[start:start + 10])]
        result = sqs.send_message_batch(QueueUrl=queue, Entries=entries)
        if result.get("Failed"):
            raise RuntimeError(f"{len(result['Failed'])} send batches were not queued")  # the page is redone


def _advance(issue_id: str, cursor: str | None, next_cursor: str | None, queued: int) -> None:
    """Record a queued page. Counting only after the page is queued keeps `queued` exact after a crash."""
    names = {"#c": "dispatch_cursor"}
    values = {":n": queued}
    condition = "attribute_not_exists(#c)" if cursor is None else "#c = :old"
    if cursor is not None:
        values[":old"] = cursor
    if next_cursor is None:
        update = "ADD queued :n, remaining :n SET dispatched = :yes, dispatched_at = :now REMOVE #c, GSI2PK, GSI2SK"
        values.update({":yes": True, ":now": clock.iso()})
        if cursor is None:
            condition = "attribute_not_exists(#c) AND dispatched = :no"
            values[":no"] = False
    else:
        update = "ADD queued :n, remaining :n SET #c = :next"
        values[":next"] = next_cursor
    aws.table().update_item(Key=keys.issue(issue_id), UpdateExpression=update, ConditionExpression=condition,
                            ExpressionAttributeNames=names, ExpressionAttributeValues=values)


def complete_if_done(issue_id: str) -> bool:
    from botocore.exceptions import ClientError

    try:
        aws.table().update_item(
            Key=keys.issue(issue_id), UpdateExpression="SET #s = :sent, completed_at = :now",
            ConditionExpression="#s = :sending AND dispatched = :yes AND remaining <= :zero",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":sent": "sent", ":sending": "sending", ":yes": True, ":zero": 0,
                                       ":now": clock.iso()})
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise
    # The stored rendering holds story words and names: it goes when the send is done.
    aws.table().delete_item(Key=keys.issue_rendered(issue_id))
    count("IssueSendsCompleted")
    logger().info("issue send complete", extra={"issue_id": issue_id})
    return True


# ---------------------------------------------------------------- the rendered issue


def store_rendered(issue: dict, replace: bool = False) -> None:
    """Render the issue once for this send; a retried dispatch keeps the first rendering.

    replace=True renders again over it: a story in it lost its consent part-way through the send.
    """
    from botocore.exceptions import ClientError

    rendered = newsletter.render(issue, channel="newsletter", personal=True)
    story_ids = [s["story_id"] for s in issue.get("sections", [])
                 if s.get("kind") == "story" and newsletter.shareable_story(s["story_id"], "newsletter") is not None]
    try:
        aws.table().put_item(
            Item={**keys.issue_rendered(issue["issue_id"]), "subject": rendered.subject,
                  "html_z": zlib.compress(rendered.html.encode()), "text_z": zlib.compress(rendered.text.encode()),
                  "story_ids": story_ids, "rendered_at": clock.iso()},
            **({} if replace else {"ConditionExpression": "attribute_not_exists(PK)"}))
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise


@functools.lru_cache(maxsize=4)
def _rendered_story_ids(issue_id: str) -> tuple[str, ...]:
    item = aws.table().get_item(Key=keys.issue_rendered(issue_id), ConsistentRead=True,
                                ProjectionExpression="story_ids").get("Item") or {}
    return tuple(item.get("story_ids", ()))


def ensure_consent_still_holds(issue_id: str) -> None:
    """Before each batch: if a story in the stored rendering was withdrawn or narrowed since, render
    again without it, so no later copy carries it. No stories in the issue: no reads at all."""
    story_ids = _rendered_story_ids(issue_id)
    if story_ids and any(newsletter.shareable_story(sid, "newsletter") is None for sid in story_ids):
        store_rendered(issues.get(issue_id), replace=True)
        prepared.cache_clear()
        _rendered_story_ids.cache_clear()
        logger().info("issue re-rendered after a consent change", extra={"issue_id": issue_id})


def outgoing(subject: str, html: str, text: str) -> mail.OutgoingMessage:
    settings = get_settings()
    return mail.OutgoingMessage(
        to=mail.PLACEHOLDER_ADDRESS, subject=subject, text=text, html=html, sender=settings.newsletter_from,
        reply_to=settings.reply_to, list_id=settings.list_id,
        unsubscribe_url=newsletter.PERSONAL["unsubscribe_url"], unsubscribe_mailto=settings.unsubscribe_mailto,
        tags={"purpose": "newsletter"})


@functools.lru_cache(maxsize=4)
def prepared(issue_id: str) -> mail.PreparedMessage:
    """The issue's MIME, built once per warm Lambda (one read, amortised over every recipient)."""
    item = aws.table().get_item(Key=keys.issue_rendered(issue_id), ConsistentRead=True)["Item"]
    html = zlib.decompress(bytes(item["html_z"])).decode()
    text = zlib.decompress(bytes(item["text_z"])).decode()
    return mail.PreparedMessage(outgoing(item["subject"], html, text))


# ---------------------------------------------------------------- sending


@dataclass
class Outcome:
    recipient_id: str
    status: str  # sent | failed | suppressed | release
    reason: str = ""
    ses_message_id: str = ""
    carried: bool = False  # recorded by an earlier attempt at this same queue message


class Pacer:
    """Spaces sends so that all concurrent senders together stay within settings.send_rate_per_second."""

    def __init__(self, sleep: Callable[[float], None] = time.sleep) -> None:
        self._sleep = sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        settings = get_settings()
        interval = max(1, settings.send_concurrency) / settings.send_rate_per_second
        with self._lock:
            now = time.monotonic()
            wait_for = self._next - now
            self._next = max(now, self._next) + interval
        if wait_for > 0:
            self._sleep(wait_for)


pacer = Pacer()


def batch_key(issue_id: str, recipient_ids: list[str]) -> str:
    """The same queue message (a duplicate, a retry, a re-queued page) always has the same key."""
    import base64
    import hashlib

    digest = hashlib.sha256("\n".join([issue_id, *recipient_ids]).encode()).digest()
    return base64.b32encode(digest[:10]).decode().lower()


def send_batch(issue_id: str, recipient_ids: list[str], receive_count: int = 1,
               remaining_ms: Callable[[], int] = lambda: 300_000) -> dict[str, int]:
    """Send one queue message's recipients. Raises RetryLater if any must be tried again.

    Per recipient: one conditional write (the claim) before SES, one SES call. Outcomes are then
    written 25 to a request, and the issue's counters once per message, idempotently (the message's
    key joins a set in the same update), so a retry or duplicate never counts anyone twice.
    """
    recipient_ids = list(dict.fromkeys(recipient_ids))
    key = batch_key(issue_id, recipient_ids)
    mine, outcomes, busy = claim(issue_id, recipient_ids, key)
    if mine:
        ensure_consent_still_holds(issue_id)
        message = prepared(issue_id)
        people = _people(mine)
        for rid in mine:
            outcomes.append(_send_one(message, issue_id, rid, people.get(rid), receive_count, remaining_ms))
    tally = record(issue_id, key, outcomes, complete=not busy)
    if busy or tally["release"]:
        raise RetryLater(f"{len(busy)} being sent elsewhere, {tally['release']} to retry")
    return tally


def _send_one(message, issue_id: str, rid: str, subscriber: dict | None, receive_count: int,
              remaining_ms: Callable[[], int]) -> Outcome:
    from botocore.exceptions import BotoCoreError, ClientError, ConnectionClosedError, ReadTimeoutError

    if not subscriber:
        return Outcome(rid, "suppressed", "no longer subscribed (erased)")
    if subscriber.get("status") != "confirmed":
        return Outcome(rid, "suppressed", f"no longer subscribed ({subscriber.get('status')})")
    if TOPIC not in subscriber.get("topics", ()):
        return Outcome(rid, "suppressed", "no longer wants the newsletter")
    if remaining_ms() < STOP_WITH_MS_LEFT:
        return Outcome(rid, "release", "out of time")
    links = subscriptions.links(rid)
    values = newsletter.personal_values(subscriber.get("first_name", ""), links["preferences_url"],
                                        links["unsubscribe_url"])
    pacer.wait()
    try:
        ses_id = mail.send_prepared(message, subscriber["email"], values, f"{issue_id}.{rid}")
    except mail.PermanentSendError as exc:
        return Outcome(rid, "failed", f"SES refused the message: {exc.code}")
    except ValueError:
        return Outcome(rid, "failed", "the address is not valid")
    except (ReadTimeoutError, ConnectionClosedError) as exc:
        # The request reached SES but no answer came back: it may have been sent. Never risk a second copy.
        return Outcome(rid, "failed", f"SES outcome unknown ({type(exc).__name__}); not resent, to avoid a duplicate")
    except (SendThrottled, ClientError, BotoCoreError) as exc:
        # SES answered "no" (or was never reached): nothing left PeerPost, so a retry is safe.
        code = exc.response["Error"].get("Code", "error") if isinstance(exc, ClientError) else type(exc).__name__
        if receive_count >= GIVE_UP_AFTER_RECEIVES:
            return Outcome(rid, "failed", f"gave up after {receive_count} attempts: {code}")
        return Outcome(rid, "release", code)
    return Outcome(rid, "sent", ses_message_id=ses_id)


def claim(issue_id: str, recipient_ids: list[str], key: str) -> tuple[list[str], list[Outcome], list[str]]:
    """Claim each (issue, recipient) delivery with a conditional write.

    Returns (claimed now, outcomes already settled for this message, ids another attempt is sending).
    A claim left "sending" past its lease belonged to an attempt that died after (perhaps) sending:
    it becomes a failure with that reason, never a second copy.
    """
    from botocore.exceptions import ClientError

    table = aws.table()
    now, epoch = clock.iso(), clock.epoch()
    mine, settled, busy = [], [], []
    for rid in recipient_ids:
        try:
            table.put_item(Item={**keys.delivery(issue_id, rid), "recipient_id": rid, "status": "sending",
                                 "batch": key, "claimed_at": now, "claimed_epoch": epoch},
                           ConditionExpression="attribute_not_exists(PK)",
                           ReturnValuesOnConditionCheckFailure="ALL_OLD")
            mine.append(rid)
            continue
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            existing = exc.response.get("Item")
            existing = _deserialise(existing) if existing else _get_delivery(issue_id, rid)
        if existing.get("batch") != key:
            continue  # another queue message holds this recipient and counts them
        if existing["status"] in FINAL:
            settled.append(Outcome(rid, existing["status"], existing.get("reason", ""), carried=True))
        elif epoch - int(existing.get("claimed_epoch", 0)) >= LEASE_SECONDS:
            settled.append(Outcome(rid, "failed", "interrupted before its outcome was recorded; "
                                                  "not resent, to avoid a duplicate"))
        else:
            busy.append(rid)
    if len(mine) < len(recipient_ids):
        count("DeliveryClaimConflicts", len(recipient_ids) - len(mine))
    return mine, settled, busy


def _deserialise(item: dict) -> dict:
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()
    return {k: deserializer.deserialize(v) for k, v in item.items()}


def _get_delivery(issue_id: str, rid: str) -> dict:
    return aws.table().get_item(Key=keys.delivery(issue_id, rid), ConsistentRead=True).get("Item") or {}


def _people(recipient_ids: list[str]) -> dict[str, dict]:
    """Each recipient's subscriber item as it is now: one BatchGetItem (100 keys) per queue message.

    A suppression (bounce, complaint) always unsubscribes too, and erasure deletes the item, so the
    subscriber's own status is the whole send-time check.
    """
    from boto3.dynamodb.types import TypeSerializer

    settings = get_settings()
    client = aws.dynamodb_client()
    serializer = TypeSerializer()
    wanted = [keys.subscriber(rid) for rid in recipient_ids]
    found: dict[str, dict] = {}
    for start in range(0, len(wanted), 100):
        request = {settings.table_name: {
            "Keys": [{k: serializer.serialize(v) for k, v in key.items()} for key in wanted[start:start + 100]],
            "ProjectionExpression": "PK, email, first_name, topics, #s", "ExpressionAttributeNames": {"#s": "status"},
            "ConsistentRead": True}}
        for backoff in range(10):
            response = client.batch_get_item(RequestItems=request)
            for raw in response["Responses"].get(settings.table_name, []):
                item = _deserialise(raw)
                found[keys.subscriber_id(item)] = item
            request = response.get("UnprocessedKeys") or {}
            if not request:
                break
            time.sleep(0.05 * 2**backoff)
    return {rid: found.get(rid, {}) for rid in recipient_ids}


def record(issue_id: str, key: str, outcomes: list[Outcome], complete: bool = True) -> dict[str, int]:
    """Write the outcomes (25 to a request), then, once the whole message is settled, add it to the
    issue's counters exactly once."""
    from botocore.exceptions import ClientError

    tally = {"sent": 0, "failed": 0, "suppressed": 0, "release": 0}
    now = clock.iso()
    table = aws.table()
    with table.batch_writer() as batch:
        for o in outcomes:
            tally[o.status] += 1
            if o.carried:
                continue
            item_key = keys.delivery(issue_id, o.recipient_id)
            if o.status == "release":
                batch.delete_item(Key=item_key)  # nothing left PeerPost: the retry may claim it again
                continue
            item = {**item_key, "recipient_id": o.recipient_id, "status": o.status, "batch": key,
                    "reason": o.reason, "ses_message_id": o.ses_message_id, "finished_at": now}
            if o.status == "failed":
                item.update(keys.delivery_failure_index(issue_id, now, o.recipient_id))
            batch.put_item(Item=item)
    if not complete or tally["release"]:
        return tally  # counted when every recipient of this message has an outcome
    done = tally["sent"] + tally["failed"] + tally["suppressed"]
    try:
        updated = table.update_item(
            Key=keys.issue(issue_id),
            UpdateExpression="ADD sent :sent, failed :failed, suppressed :suppressed, remaining :minus, counted :key",
            ConditionExpression="NOT contains(counted, :k)",
            ExpressionAttributeValues={":sent": tally["sent"], ":failed": tally["failed"],
                                       ":suppressed": tally["suppressed"], ":minus": -done, ":key": {key}, ":k": key},
            ReturnValues="UPDATED_NEW")
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        return tally  # this message was counted before (a duplicate or a retry after the count)
    for name in ("sent", "failed", "suppressed"):
        if tally[name]:
            count(f"Newsletter{name.capitalize()}", tally[name])
    if int(updated["Attributes"].get("remaining", 1)) <= 0:
        complete_if_done(issue_id)
    return tally


# ---------------------------------------------------------------- Lambda entry points


def handle_dispatch(event) -> None:
    for record_ in event:
        dispatch(json.loads(record_.body)["issue_id"])


def handle_send(event: dict, context) -> dict:
    """SQS batch with partial failures: only the messages that need retrying come back."""
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    remaining = getattr(context, "get_remaining_time_in_millis", lambda: 300_000)

    def one(record) -> None:  # powertools passes it by this name
        body = json.loads(record.body)
        receives = int(record.attributes.approximate_receive_count or 1)
        send_batch(body["issue_id"], body["recipients"], receives, remaining)

    # Even when every record fails, report them one by one rather than raise: the outcome is the same.
    processor = BatchProcessor(EventType.SQS, raise_on_entire_batch_failure=False)
    return process_partial_response(event=event, record_handler=one, processor=processor, context=context)


# ---------------------------------------------------------------- previews and test sends


def _sample_values(name: str) -> dict[str, str]:
    """A coordinator's preview or test: their name, and links that lead somewhere harmless."""
    base = get_settings().public_base_url
    first = (name or "").split(" ")[0]
    return newsletter.personal_values(first, f"{base}/subscribe", f"{base}/subscribe")


def preview(issue: dict, coordinator_name: str):
    return newsletter.fill(newsletter.render(issue, channel="newsletter", personal=True),
                           _sample_values(coordinator_name))


def send_test(issue: dict, to: str, coordinator_name: str) -> str:
    """A test copy, built exactly as subscribers' copies are (same MIME, same substitution)."""
    from chalicelib import ratelimit

    ratelimit.enforce("issue-test", to, 30)
    rendered = newsletter.render(issue, channel="newsletter", personal=True)
    message = mail.PreparedMessage(outgoing(f"[Test] {rendered.subject}", rendered.html, rendered.text))
    ses_id = mail.send_prepared(message, to, _sample_values(coordinator_name),
                                f"test.{issue['issue_id']}.{uuid.uuid4().hex}")
    logger().info("issue test sent", extra={"issue_id": issue["issue_id"]})
    return ses_id
