"""Sending an issue's copies: per queue message, claim each (issue, recipient) delivery, personalise
by substitution, SES, and record the outcome. The send's lifecycle (dispatch, counters, completion)
is send_run.py's; the rendering every copy is made from is issue_rendering.py's.

Guarantees, and how:
- at most one copy per (issue, recipient): a delivery record claimed by a conditional write
  just before the SES call;
- every recipient ends sent, failed (with a reason) or suppressed: someone who left since
  dispatch is claimed straight as suppressed; a settled queue message is added to the issue's
  counters once, idempotently (send_run.count_message: the message's key joins a set in the same
  update), and that key is what marks the message's claims as sent, so a sent copy costs no write
  beyond its claim. Failures, releases and messages left unfinished write their outcomes over the
  claims. A claim left "sending" by a crashed attempt is, once its lease is over, recorded as failed
  ("outcome unknown") rather than resent, because SES may have accepted it. (No transactions: they
  cost two writes per item in DynamoDB, and moto copies the whole table for each one.)
- flat memory: each queue message carries send_run.RECIPIENTS_PER_MESSAGE recipient ids.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Callable

from chalicelib import audience as audiences, aws, clock, dynamo, issue_rendering, issues, keys, mail, newsletter, \
    send_run, subscriptions
from chalicelib.errors import ReadsUnprocessed, SendThrottled
from chalicelib.observability import count
from chalicelib.pacing import Pacer
from chalicelib.wiring import Metric
from chalicelib.settings import get_settings

LEASE_SECONDS = 300  # the send queue's visibility timeout (above the send function's): an older "sending" claim's attempt is over
GIVE_UP_AFTER_RECEIVES = 5  # below the queue's maxReceiveCount (8): failures get a reason, not the DLQ
STOP_WITH_MS_LEFT = 15_000
FINAL = ("sent", "failed", "suppressed", "paused")


class RetryLater(Exception):
    """Some recipients of this queue message must be tried again (throttled, or being sent elsewhere)."""


# ---------------------------------------------------------------- sending


@dataclass
class Outcome:
    recipient_id: str
    status: str  # sent | failed | suppressed | paused | release
    reason: str = ""
    stored: bool = False  # already in the table as it stands (the claim itself, or an earlier attempt)


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

    Per recipient: one conditional write (the claim) just before one SES call. Someone who left
    since dispatch is claimed straight as suppressed, so that write is their outcome too. When
    every recipient of the message is settled, one counter update counts the message and, by
    naming its key, marks its claims as sent; only exceptions (failures, releases, a message left
    unfinished) write outcomes of their own.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    recipient_ids = list(dict.fromkeys(recipient_ids))
    key = batch_key(issue_id, recipient_ids)
    people = _people(recipient_ids)
    chosen, now = _audience(issue_id), clock.iso()
    earlier = EarlierAttempts(issue_id, key)
    share = SenderShare(issue_id)
    issue_rendering.consent_watch.forget(issue_id)
    outcomes: list[Outcome] = []
    busy = unfinished = 0
    for position, rid in enumerate(recipient_ids):
        if remaining_ms() < STOP_WITH_MS_LEFT:
            unfinished = len(recipient_ids) - position  # not claimed yet: the retry sends them
            break
        unwanted = _unwanted(people.get(rid), chosen, now)
        skipped = "paused" if unwanted == subscriptions.PAUSED else "suppressed"
        if not unwanted:
            pacer.wait(share.senders())  # before the claim: a sender that dies between its claim and SES leaves one unsent
        try:
            existing = claim(issue_id, rid, key, unwanted, skipped)
        except (ClientError, BotoCoreError):  # throttled, say: keep what is done, the retry goes on from here
            unfinished = len(recipient_ids) - position
            break
        if existing is not None:
            settled = earlier.outcome(rid, existing)
            if settled is BUSY:
                busy += 1
            elif settled is not None:
                outcomes.append(settled)
            continue
        if unwanted:
            outcomes.append(Outcome(rid, skipped, unwanted, stored=True))
            continue
        outcomes.append(_send_one(issue_id, rid, people[rid], receive_count))
    if earlier.conflicts:
        count(Metric.DELIVERY_CLAIM_CONFLICTS, earlier.conflicts)
    tally = record(issue_id, key, outcomes, complete=not (busy or unfinished))
    if busy or unfinished or tally["release"]:
        raise RetryLater(f"{busy} being sent elsewhere, {unfinished} not reached, {tally['release']} to retry")
    return tally


def _audience(issue_id: str) -> audiences.Audience:
    """Who this send is for, from the rendering every sender holds; once the send is complete (its
    rendering deleted), a late duplicate message reads it from the issue."""
    try:
        return issue_rendering.prepared(issue_id).audience
    except KeyError:
        return issues.audience_of(issues.get(issue_id))


def _unwanted(subscriber: dict | None, chosen: audiences.Audience, now_iso: str) -> str:
    """Why someone queued at dispatch must not get the issue now; empty if they still want it.
    subscriptions.PAUSED if they paused their email since."""
    reason = subscriptions.not_mailable(subscriber, chosen.topics, now_iso)
    if not reason and not chosen.includes(subscriber):
        reason = "no longer has a tag this send was narrowed to"
    return reason


def _send_one(issue_id: str, rid: str, subscriber: dict, receive_count: int) -> Outcome:
    from botocore.exceptions import BotoCoreError, ClientError, ConnectionClosedError, ReadTimeoutError

    links = subscriptions.links(rid, subscriber.get("link_nonce", ""))
    values = newsletter.personal_values(subscriber.get("first_name", ""), links["preferences_url"],
                                        links["unsubscribe_url"])
    try:
        message = issue_rendering.consent_watch.current(issue_id)  # after the pacing wait: as close to the send as it can be
    except (ClientError, BotoCoreError) as exc:  # nothing was sent: a retry is safe
        return _retry_or_give_up(rid, receive_count, f"consent re-check failed ({type(exc).__name__})")
    try:
        mail.send_prepared(message, subscriber["email"], values, f"{issue_id}.{rid}")
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
        return _retry_or_give_up(rid, receive_count, code)
    return Outcome(rid, "sent")


def _retry_or_give_up(rid: str, receive_count: int, reason: str) -> Outcome:
    if receive_count >= GIVE_UP_AFTER_RECEIVES:
        return Outcome(rid, "failed", f"gave up after {receive_count} attempts: {reason}")
    return Outcome(rid, "release", reason)


def claim(issue_id: str, rid: str, key: str, unwanted: str = "", skipped: str = "suppressed") -> dict | None:
    """Claim the (issue, recipient) delivery with a conditional write: None if it is ours now,
    otherwise the claim as it stands. `unwanted` claims it settled: `skipped` (suppressed or paused),
    with that reason."""
    from botocore.exceptions import ClientError

    item = {**keys.delivery(issue_id, rid), "recipient_id": rid, "status": "sending", "batch": key,
            "claimed_at": clock.iso(), "claimed_epoch": clock.epoch()}
    if unwanted:
        item.update(status=skipped, reason=unwanted, finished_at=item["claimed_at"])
    try:
        aws.table().put_item(Item=item, ConditionExpression="attribute_not_exists(PK)",
                             ReturnValuesOnConditionCheckFailure="ALL_OLD")
        return None
    except ClientError as exc:
        # Not dynamo.put_if_new: the refusal carries the claim as it stands, which saves a read.
        if not dynamo.condition_failed(exc):
            raise
        existing = exc.response.get("Item")
        return dynamo.deserialise(existing) if existing else _get_delivery(issue_id, rid)


BUSY = object()  # another attempt at this same message holds the claim and may be sending right now


class SenderShare:
    """How many senders share the SES rate now. While the whole audience is queued and more queue
    messages are uncounted than there are senders, all `send_concurrency` of them. Near the end fewer
    messages are left than senders, and no more senders than messages can be at work: each of them
    may then go faster (one message left: the whole rate), instead of the last message crawling at a
    sender's share while the others sit idle. Read from the issue's counters when a message starts
    and then at most every RECHECK_SECONDS.

    (Two attempts at one message, a duplicate delivery, can both send until the claims part them;
    SES throttling that this rare overlap may cause is retried by mail.SesSender.)"""

    RECHECK_SECONDS = 2.0

    def __init__(self, issue_id: str, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.issue_id = issue_id
        self._monotonic = monotonic
        self._read_at: float | None = None
        self._senders = get_settings().send_concurrency

    def senders(self) -> int:
        now = self._monotonic()
        if self._read_at is None or now - self._read_at >= self.RECHECK_SECONDS:
            self._read_at = now
            self._senders = self._read()
        return self._senders

    def _read(self) -> int:
        concurrency = get_settings().send_concurrency
        item = aws.table().get_item(Key=keys.issue(self.issue_id), ConsistentRead=True,
                                    ProjectionExpression="dispatched, messages, counted").get("Item") or {}
        if not item.get("dispatched") or "messages" not in item:
            return concurrency  # more may still be queued (or an issue dispatched before this was counted)
        uncounted = int(item["messages"]) - len(item.get("counted", ()))
        return max(1, min(concurrency, uncounted))


class EarlierAttempts:
    """Reads claims an earlier attempt at the same queue message left (a duplicate or retried message)."""

    def __init__(self, issue_id: str, key: str) -> None:
        self.issue_id, self.key = issue_id, key
        self.conflicts = 0
        self._counted: bool | None = None

    def outcome(self, rid: str, existing: dict) -> Outcome | object | None:
        """The outcome to carry, BUSY, or None when another queue message holds and counts this recipient.

        A claim still "sending" is sent if its message was counted. Otherwise, once past its lease,
        its attempt died after (perhaps) sending: a failure with that reason, never a second copy.
        """
        self.conflicts += 1
        if existing.get("batch") != self.key:
            return None
        if existing["status"] in FINAL:
            return Outcome(rid, existing["status"], existing.get("reason", ""), stored=True)
        if self.counted():
            return Outcome(rid, "sent", stored=True)
        if clock.epoch() - int(existing.get("claimed_epoch", 0)) >= LEASE_SECONDS:
            return Outcome(rid, "failed", "interrupted before its outcome was recorded; not resent, to avoid a duplicate")
        return BUSY

    def counted(self) -> bool:
        if self._counted is None:
            item = aws.table().get_item(Key=keys.issue(self.issue_id), ConsistentRead=True,
                                        ProjectionExpression="counted").get("Item") or {}
            self._counted = self.key in item.get("counted", set())
        return self._counted


def _get_delivery(issue_id: str, rid: str) -> dict:
    return aws.table().get_item(Key=keys.delivery(issue_id, rid), ConsistentRead=True).get("Item") or {}


def _people(recipient_ids: list[str]) -> dict[str, dict]:
    """Each recipient's subscriber item as it is now: one BatchGetItem (100 keys) per queue message.

    A suppression (bounce, complaint) always unsubscribes too, and erasure deletes the item, so the
    subscriber's own status is the whole send-time check.
    """
    wanted = [dynamo.serialise(keys.subscriber(rid)) for rid in recipient_ids]
    try:
        raw_items = dynamo.batch_get(aws.dynamodb_client(), get_settings().table_name, wanted, ConsistentRead=True,
                                  ProjectionExpression="PK, email, first_name, topics, tags, paused_until, #s, link_nonce",
                                  ExpressionAttributeNames={"#s": "status"})
    except ReadsUnprocessed:  # not read is not erased: nobody is claimed, and the whole message is tried again
        count(Metric.SUBSCRIBER_READS_UNPROCESSED)
        raise RetryLater("DynamoDB left subscriber reads unprocessed") from None
    found = {keys.subscriber_id(item): item for item in map(dynamo.deserialise, raw_items)}
    return {rid: found.get(rid, {}) for rid in recipient_ids}


def record(issue_id: str, key: str, outcomes: list[Outcome], complete: bool = True) -> dict[str, int]:
    """Write the outcomes the claims do not already hold, then, once the whole message is settled,
    have send_run add it to the issue's counters exactly once (which is also what marks its claims as sent)."""
    from botocore.exceptions import ClientError

    tally = {"sent": 0, "failed": 0, "suppressed": 0, "paused": 0, "release": 0}
    for o in outcomes:
        tally[o.status] += 1
    counting = complete and not tally["release"]
    _write_outcomes(issue_id, key, [o for o in outcomes if not o.stored and (o.status != "sent" or not counting)])
    if not counting:
        return tally  # counted when every recipient of this message has an outcome; its sent are written above
    try:
        remaining = send_run.count_message(issue_id, key, tally)
    except ClientError:
        # Not counted, so its claims do not say "sent" yet: write that, so the retry carries them.
        _write_outcomes(issue_id, key, [o for o in outcomes if not o.stored and o.status == "sent"])
        raise
    # None: counted before, by a duplicate or by a retried attempt that died (or lost the answer) after
    # counting and before it could mark the issue sent. That attempt may have counted the last message,
    # so the check is made again here, or the issue would stay "sending" for good.
    if remaining is None or remaining <= 0:
        send_run.complete_if_done(issue_id)
    return tally


def _write_outcomes(issue_id: str, key: str, outcomes: list[Outcome]) -> None:
    """Outcomes over the claims, 25 to a request; a release deletes the claim so a retry may take it."""
    if not outcomes:
        return
    now = clock.iso()
    with aws.table().batch_writer() as batch:
        for o in outcomes:
            item_key = keys.delivery(issue_id, o.recipient_id)
            if o.status == "release":
                batch.delete_item(Key=item_key)  # nothing left PeerPost: the retry may claim it again
                continue
            item = {**item_key, "recipient_id": o.recipient_id, "status": o.status, "batch": key,
                    "reason": o.reason, "finished_at": now}
            if o.status == "failed":
                item.update(keys.delivery_failure_index(issue_id, now, o.recipient_id))
            batch.put_item(Item=item)


# ---------------------------------------------------------------- Lambda entry points


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
