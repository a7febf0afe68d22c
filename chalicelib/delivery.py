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
import math
import threading
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
    unfinished) write outcomes of their own. Copies go out one at a time, or several together when
    this sender's share of the rate needs it (InFlight).
    """
    recipient_ids = list(dict.fromkeys(recipient_ids))
    key = batch_key(issue_id, recipient_ids)
    people = _people(recipient_ids)
    chosen, now = _audience(issue_id), clock.iso()
    share = SenderShare(issue_id)
    issue_rendering.consent_watch.forget(issue_id)
    progress = Progress(EarlierAttempts(issue_id, key))
    rate = get_settings().send_rate_per_second
    for rid in recipient_ids:
        if remaining_ms() < STOP_WITH_MS_LEFT or progress.stopped or in_flight.failed:
            break  # not claimed: the retry sends them
        unwanted = _unwanted(people.get(rid), chosen, now)
        if unwanted:
            _copy(issue_id, rid, people[rid], key, receive_count, progress, unwanted)  # a claim, no SES call
            continue
        senders = share.senders()
        if not in_flight.reserve(rate / senders):
            break
        pacer.wait(senders)  # before the claim: a sender that dies between claim and SES leaves only those in flight
        in_flight.start(_copy, issue_id, rid, people[rid], key, receive_count, progress)
    in_flight.finish()
    if progress.earlier.conflicts:
        count(Metric.DELIVERY_CLAIM_CONFLICTS, progress.earlier.conflicts)
    unfinished = len(recipient_ids) - progress.reached
    tally = record(issue_id, key, progress.outcomes, complete=not (progress.busy or unfinished))
    if progress.busy or unfinished or tally["release"]:
        raise RetryLater(f"{progress.busy} being sent elsewhere, {unfinished} not reached, {tally['release']} to retry")
    return tally


class Progress:
    """What one queue message's copies came to, gathered from every copy in flight."""

    def __init__(self, earlier: "EarlierAttempts") -> None:
        self.earlier = earlier
        self.outcomes: list[Outcome] = []
        self.busy = 0
        self.reached = 0  # recipients whose claim was answered: the others are left to the retry
        self.stopped = False  # a claim failed (throttled, say): keep what is done, the retry goes on from here
        self._lock = threading.Lock()

    def add(self, outcome: Outcome) -> None:
        with self._lock:
            self.reached += 1
            self.outcomes.append(outcome)

    def held_before(self, rid: str, existing: dict) -> None:
        with self._lock:  # one at a time: EarlierAttempts reads the issue's counters once
            self.reached += 1
            settled = self.earlier.outcome(rid, existing)
            if settled is BUSY:
                self.busy += 1
            elif settled is not None:
                self.outcomes.append(settled)

    def stop(self) -> None:
        self.stopped = True


def _copy(issue_id: str, rid: str, subscriber: dict, key: str, receive_count: int, progress: Progress,
          unwanted: str = "") -> None:
    """Claim one recipient's delivery and, if it is ours and still wanted, send the copy."""
    from botocore.exceptions import BotoCoreError, ClientError

    skipped = "paused" if unwanted == subscriptions.PAUSED else "suppressed"
    try:
        existing = claim(issue_id, rid, key, unwanted, skipped)
    except (ClientError, BotoCoreError):
        progress.stop()
        return
    if existing is not None:
        progress.held_before(rid, existing)
    elif unwanted:
        progress.add(Outcome(rid, skipped, unwanted, stored=True))
    else:
        progress.add(_send_one(issue_id, rid, subscriber, receive_count))


class InFlight:
    """How many copies one sender has at SES at once.

    One at a time, a sender manages one copy per SES round trip: about 50 ms, so 20 a second. That is
    more than its share while every sender is at work (14/s over 3 senders, 200/s over 40), but near the
    end of a send SenderShare gives the few senders left the whole rate, and one at a time the last
    messages would crawl with the quota unused. So a sender keeps in flight its share of the rate times
    the round trip it has seen, up to settings.send_in_flight. While that is one, copies go out in the
    sender's own thread, one after another; above it, from a pool of threads kept for the life of the
    Lambda. (boto3's clients are thread-safe; aws.table() gives each thread its own Table.)
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._busy = 0
        self._limit = 1
        self._round_trip = 0.0  # seconds: a moving average of this sender's SendEmail calls
        self._pool = None
        self._failure: BaseException | None = None

    @property
    def failed(self) -> bool:
        return self._failure is not None

    def limit_for(self, per_second: float) -> int:
        return max(1, min(get_settings().send_in_flight, math.ceil(per_second * self._round_trip)))

    def took(self, seconds: float) -> None:
        with self._changed:
            self._round_trip = seconds if not self._round_trip else 0.8 * self._round_trip + 0.2 * seconds

    def reserve(self, per_second: float) -> bool:
        """Wait for a place among this sender's copies in flight, at `per_second` for this sender.
        False once a copy has raised: the sender starts no more (finish() raises it)."""
        with self._changed:
            self._limit = self.limit_for(per_second)
            self._changed.wait_for(lambda: self._busy < self._limit or self._failure is not None)
            return self._failure is None

    def start(self, task: Callable, *args) -> None:
        """Run one copy: here, if it may be the only one in flight; otherwise in the pool."""
        with self._changed:
            alone = self._limit == 1 and self._busy == 0
            self._busy += 1
        if alone:
            self._run(task, args)
            return
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(get_settings().send_in_flight, thread_name_prefix="peerpost-copy")
        self._pool.submit(self._run, task, args)

    def _run(self, task: Callable, args: tuple) -> None:
        try:
            task(*args)
        except BaseException as exc:  # raised again in the sender's thread by finish()
            with self._changed:
                self._failure = self._failure or exc
        finally:
            with self._changed:
                self._busy -= 1
                self._changed.notify_all()

    def finish(self) -> None:
        """Wait for every copy in flight; raise what any of them raised, as one at a time would have."""
        with self._changed:
            self._changed.wait_for(lambda: self._busy == 0)
            failure, self._failure = self._failure, None
        if failure is not None:
            raise failure


in_flight = InFlight()


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
    started = time.monotonic()
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
    in_flight.took(time.monotonic() - started)
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
        # The low-level client: thread-safe, so copies in flight together share it (and it is the cheaper call).
        aws.dynamodb_client().put_item(TableName=get_settings().table_name, Item=dynamo.serialise(item),
                                       ConditionExpression="attribute_not_exists(PK)",
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
    sender's share while the others sit idle. Read from the issue's counters when a message starts,
    then every RECHECK_SECONDS while every sender is at work, and every ENDGAME_RECHECK_SECONDS once
    fewer are: the last messages finish within a few seconds of each other, and a share two seconds
    stale would leave a sender pacing for forty when it is one of three.

    (Two attempts at one message, a duplicate delivery, can both send until the claims part them;
    SES throttling that this rare overlap may cause is retried by mail.SesSender.)"""

    RECHECK_SECONDS = 2.0
    ENDGAME_RECHECK_SECONDS = 0.5

    def __init__(self, issue_id: str, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.issue_id = issue_id
        self._monotonic = monotonic
        self._read_at: float | None = None
        self._senders = get_settings().send_concurrency

    def senders(self) -> int:
        now = self._monotonic()
        every = self.RECHECK_SECONDS if self._senders >= get_settings().send_concurrency else self.ENDGAME_RECHECK_SECONDS
        if self._read_at is None or now - self._read_at >= every:
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
