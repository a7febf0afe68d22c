"""The newsletter send pipeline: dispatch (render once, page the audience, queue recipient batches)
and send (claim each delivery, personalise by substitution, SES, record the outcome).

Guarantees, and how:
- at most one copy per (issue, recipient): a delivery record claimed by a conditional write
  (one transaction for the whole batch; per-item writes only when some were claimed before);
- every recipient ends sent, failed (with a reason) or suppressed: outcomes and the issue's
  counters are written in ONE transaction, so counters never drift; a claim left "sending" by a
  crashed attempt is, once its lease is over, recorded as failed ("outcome unknown") rather than
  resent, because SES may have accepted it;
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
from typing import Callable, Iterable

from chalicelib import aws, clock, issues, keys, mail, newsletter, subscriptions
from chalicelib.errors import SendThrottled
from chalicelib.observability import count, logger
from chalicelib.settings import get_settings

RECIPIENTS_PER_MESSAGE = 50  # 50 claims + 1 counter update fit one 100-item transaction
AUDIENCE_PAGE = 500
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
        update = "ADD queued :n, remaining :n SET dispatched = :yes, dispatched_at = :now REMOVE #c"
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
            ConditionExpression="#s = :sending AND dispatched = :yes AND remaining = :zero",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":sent": "sent", ":sending": "sending", ":yes": True, ":zero": 0,
                                       ":now": clock.iso()})
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise
    count("IssueSendsCompleted")
    logger().info("issue send complete", extra={"issue_id": issue_id})
    return True


# ---------------------------------------------------------------- the rendered issue


def store_rendered(issue: dict) -> None:
    """Render the issue once for this send; a retried dispatch keeps the first rendering."""
    from botocore.exceptions import ClientError

    rendered = newsletter.render(issue, channel="newsletter", personal=True)
    try:
        aws.table().put_item(
            Item={**keys.issue_rendered(issue["issue_id"]), "subject": rendered.subject,
                  "html_z": zlib.compress(rendered.html.encode()), "text_z": zlib.compress(rendered.text.encode()),
                  "rendered_at": clock.iso()},
            ConditionExpression="attribute_not_exists(PK)")
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise


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
    attempt: str = ""


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


def send_batch(issue_id: str, recipient_ids: list[str], receive_count: int = 1,
               remaining_ms: Callable[[], int] = lambda: 300_000) -> dict[str, int]:
    """Send one queue message's recipients. Raises RetryLater if any must be tried again."""
    recipient_ids = list(dict.fromkeys(recipient_ids))
    attempt = uuid.uuid4().hex
    mine, stale, busy = claim(issue_id, recipient_ids, attempt)
    outcomes = [Outcome(rid, "failed", "interrupted before its outcome was recorded; not resent, to avoid a duplicate",
                        attempt=old) for rid, old in stale]
    if mine:
        message = prepared(issue_id)
        people = _people(mine)
        for rid in mine:
            outcomes.append(_send_one(message, issue_id, rid, people.get(rid), receive_count, remaining_ms))
            outcomes[-1].attempt = attempt
    tally = record(issue_id, outcomes)
    if tally["sent"] + tally["failed"] + tally["suppressed"]:
        complete_if_done(issue_id)
    if busy or tally["release"]:
        raise RetryLater(f"{len(busy)} being sent elsewhere, {tally['release']} to retry")
    return tally


def _send_one(message, issue_id: str, rid: str, person: dict | None, receive_count: int,
              remaining_ms: Callable[[], int]) -> Outcome:
    from botocore.exceptions import BotoCoreError, ClientError

    subscriber, suppression = person or ({}, None)
    if suppression is not None:
        return Outcome(rid, "suppressed", f"suppressed: {suppression.get('reason', 'unknown')}")
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
    except (SendThrottled, ClientError, BotoCoreError) as exc:
        code = exc.response["Error"].get("Code", "error") if isinstance(exc, ClientError) else type(exc).__name__
        if receive_count >= GIVE_UP_AFTER_RECEIVES:
            return Outcome(rid, "failed", f"gave up after {receive_count} attempts: {code}")
        return Outcome(rid, "release", code)
    return Outcome(rid, "sent", ses_message_id=ses_id)


def _serialise(item: dict) -> dict:
    from boto3.dynamodb.types import TypeSerializer

    serializer = TypeSerializer()
    return {k: serializer.serialize(v) for k, v in item.items()}


def _deserialise(item: dict) -> dict:
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()
    return {k: deserializer.deserialize(v) for k, v in item.items()}


def claim(issue_id: str, recipient_ids: list[str], attempt: str) -> tuple[list[str], list[tuple[str, str]], list[str]]:
    """Claim each (issue, recipient) delivery. Returns (mine, stale claims [(id, their attempt)], busy ids)."""
    from botocore.exceptions import ClientError

    if not recipient_ids:
        return [], [], []
    settings = get_settings()
    client = aws.dynamodb_client()
    now = clock.iso()
    items = {rid: {**keys.delivery(issue_id, rid), "issue_id": issue_id, "recipient_id": rid, "status": "sending",
                   "attempt": attempt, "claimed_at": now, "claimed_epoch": clock.epoch()} for rid in recipient_ids}
    try:
        client.transact_write_items(TransactItems=[
            {"Put": {"TableName": settings.table_name, "Item": _serialise(item),
                     "ConditionExpression": "attribute_not_exists(PK)"}} for item in items.values()])
        return list(recipient_ids), [], []
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "TransactionCanceledException":
            raise
    # Some were claimed before (a duplicate or retried message): claim one by one, seeing who holds the rest.
    mine, stale, busy = [], [], []
    for rid, item in items.items():
        try:
            client.put_item(TableName=settings.table_name, Item=_serialise(item),
                            ConditionExpression="attribute_not_exists(PK)",
                            ReturnValuesOnConditionCheckFailure="ALL_OLD")
            mine.append(rid)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            existing = _deserialise(exc.response.get("Item") or {}) or _get_delivery(issue_id, rid)
            if existing.get("status") in FINAL:
                continue
            if clock.epoch() - int(existing.get("claimed_epoch", 0)) >= LEASE_SECONDS:
                stale.append((rid, existing["attempt"]))
            else:
                busy.append(rid)
    count("DeliveryClaimConflicts", len(recipient_ids) - len(mine))
    return mine, stale, busy


def _get_delivery(issue_id: str, rid: str) -> dict:
    return aws.table().get_item(Key=keys.delivery(issue_id, rid), ConsistentRead=True).get("Item") or {}


def _people(recipient_ids: Iterable[str]) -> dict[str, tuple[dict, dict | None]]:
    """Each recipient's subscriber item and suppression, in one BatchGetItem (100 keys) per 50 recipients."""
    settings = get_settings()
    client = aws.dynamodb_client()
    wanted = []
    for rid in recipient_ids:
        wanted += [keys.subscriber(rid), keys.suppression(rid)]
    found: dict[tuple[str, str], dict] = {}
    for start in range(0, len(wanted), 100):
        request = {settings.table_name: {"Keys": [_serialise(k) for k in wanted[start:start + 100]],
                                         "ConsistentRead": True}}
        for backoff in range(10):
            response = client.batch_get_item(RequestItems=request)
            for raw in response["Responses"].get(settings.table_name, []):
                item = _deserialise(raw)
                found[(item["PK"], item["SK"])] = item
            request = response.get("UnprocessedKeys") or {}
            if not request:
                break
            time.sleep(0.05 * 2**backoff)
    people = {}
    for rid in recipient_ids:
        sub, sup = keys.subscriber(rid), keys.suppression(rid)
        people[rid] = (found.get((sub["PK"], sub["SK"]), {}), found.get((sup["PK"], sup["SK"])))
    return people


def record(issue_id: str, outcomes: list[Outcome]) -> dict[str, int]:
    """Every outcome and the issue's counters in one transaction: counters can never drift from records."""
    tally = {"sent": 0, "failed": 0, "suppressed": 0, "release": 0}
    if not outcomes:
        return tally
    settings = get_settings()
    now = clock.iso()
    actions = []
    for o in outcomes:
        tally[o.status] += 1
        key = _serialise(keys.delivery(issue_id, o.recipient_id))
        if o.status == "release":
            actions.append({"Delete": {"TableName": settings.table_name, "Key": key,
                                       "ConditionExpression": "attempt = :a",
                                       "ExpressionAttributeValues": _serialise({":a": o.attempt})}})
            continue
        values = {":s": o.status, ":now": now, ":a": o.attempt, ":sending": "sending", ":r": o.reason,
                  ":m": o.ses_message_id}
        update = "SET #s = :s, finished_at = :now, reason = :r, ses_message_id = :m"
        if o.status == "failed":
            index = keys.delivery_failure_index(issue_id, now, o.recipient_id)
            update += ", GSI2PK = :pk, GSI2SK = :sk"
            values.update({":pk": index["GSI2PK"], ":sk": index["GSI2SK"]})
        actions.append({"Update": {"TableName": settings.table_name, "Key": key, "UpdateExpression": update,
                                   "ConditionExpression": "#s = :sending AND attempt = :a",
                                   "ExpressionAttributeNames": {"#s": "status"},
                                   "ExpressionAttributeValues": _serialise(values)}})
    done = tally["sent"] + tally["failed"] + tally["suppressed"]
    if done:
        actions.append({"Update": {
            "TableName": settings.table_name, "Key": _serialise(keys.issue(issue_id)),
            "UpdateExpression": "ADD sent :sent, failed :failed, suppressed :suppressed, remaining :minus",
            "ExpressionAttributeValues": _serialise({":sent": tally["sent"], ":failed": tally["failed"],
                                                     ":suppressed": tally["suppressed"], ":minus": -done})}})
    aws.dynamodb_client().transact_write_items(TransactItems=actions)
    for name in ("sent", "failed", "suppressed"):
        if tally[name]:
            count(f"Newsletter{name.capitalize()}", tally[name])
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
