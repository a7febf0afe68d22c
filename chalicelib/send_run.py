"""An issue's send from start to done: starting it, dispatching its audience, its counters, completion,
progress and failures, and queueing a stalled dispatch again.

The issue item is the send's state: `status` (sending, then sent), the counters (queued, sent, failed,
suppressed, paused, remaining; `messages` queued and the keys of those `counted`), and, until its
whole audience is queued, the dispatch cursor and its place in the "undispatched" index. Sending
each recipient's copy is delivery.py's; it hands each settled queue message back here to be counted.
"""
from __future__ import annotations

import json

from chalicelib import audience as audiences, aws, clock, dynamo, issue_rendering, issues, keys, subscriptions
from chalicelib.observability import count, logger
from chalicelib.settings import get_settings
from chalicelib.wiring import Metric

RECIPIENTS_PER_MESSAGE = 100  # one BatchGetItem (100 keys) and one counter update per message
AUDIENCE_PAGE = 5000  # ids only (about 0.5 MB); DynamoDB may return fewer (1 MB read a page)
STALLED_AFTER_SECONDS = 15 * 60  # longer than a dispatch Lambda's timeout plus its queue's retry delay
COUNTERS = ("queued", "sent", "failed", "suppressed", "paused", "remaining")


# ---------------------------------------------------------------- starting a send


def start(issue_id: str, by: str, from_status: str = "draft", audience=None) -> bool:
    """Mark the issue sending and queue its dispatch. Only the first of a double click gets True.
    audience: who it goes to (audience.Audience); a scheduled issue keeps the one chosen when it was scheduled."""
    from botocore.exceptions import ClientError

    issue = issues.get(issue_id)
    if issue["status"] in issues.PUBLISHED:
        return False
    issues.check_ready(issue)
    now = clock.iso()
    index = keys.issue_undispatched_index(now, issue_id)
    started = dynamo.update_if(
        Key=keys.issue(issue_id),
        # Until dispatch has queued everyone, the issue sits in the "undispatched" index, so the
        # scheduler can queue its dispatch again if the message was lost (SQS refused, or dead-lettered).
        UpdateExpression=("SET #s = :sending, sent_by = :by, send_started_at = :now, queued = :zero, sent = :zero, "
                          "failed = :zero, suppressed = :zero, paused = :zero, remaining = :zero, "
                          "dispatched = :no, GSI2PK = :undispatched, GSI2SK = :sk, audience = :audience"),
        ConditionExpression="#s = :from",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":sending": "sending", ":from": from_status, ":by": by, ":now": now,
                                   ":zero": 0, ":no": False, ":undispatched": index["GSI2PK"], ":sk": index["GSI2SK"],
                                   ":audience": (audience or issues.audience_of(issue)).as_item()})
    if not started:
        return False
    try:
        issues.claim_slug(issue)
    except ClientError:  # the send goes on; the issue keeps its id address until a slug is claimed
        logger().warning("issue address not claimed", extra={"issue_id": issue_id})
    enqueue_dispatch(issue_id)
    count(Metric.ISSUE_SENDS_STARTED)
    logger().info("issue send started", extra={"issue_id": issue_id})
    return True


def enqueue_dispatch(issue_id: str) -> None:
    aws.sqs().send_message(QueueUrl=aws.queue_url(get_settings().dispatch_queue),
                           MessageBody=json.dumps({"issue_id": issue_id}))


def start_due() -> list[str]:
    """The scheduler's job: start every scheduled issue whose time has come."""
    from boto3.dynamodb.conditions import Key

    now = clock.iso()
    started = []
    page = aws.table().query(IndexName="GSI2", KeyConditionExpression=(
        Key("GSI2PK").eq(keys.issues_scheduled()) & Key("GSI2SK").lte(keys.issue_index_through(now))))
    for item in page["Items"]:
        if item.get("scheduled_for", "~") <= now and start(item["issue_id"], item.get("scheduled_by", "schedule"),
                                                           from_status="scheduled"):
            started.append(item["issue_id"])
    requeue_stalled_dispatches()
    return started


def requeue_stalled_dispatches() -> list[str]:
    """Sending issues whose dispatch never finished (the message was lost): queue it again.
    Dispatch resumes from its saved cursor and ignores an issue already dispatched."""
    from datetime import timedelta

    from boto3.dynamodb.conditions import Key

    before = clock.iso(clock.now() - timedelta(seconds=STALLED_AFTER_SECONDS))
    page = aws.table().query(IndexName="GSI2", KeyConditionExpression=(
        Key("GSI2PK").eq(keys.issues_undispatched()) & Key("GSI2SK").lte(keys.issue_index_through(before))))
    stalled = [item["issue_id"] for item in page["Items"] if item["status"] == "sending" and not item.get("dispatched")]
    for issue_id in stalled:
        enqueue_dispatch(issue_id)
        logger().warning("dispatch queued again for a stalled send", extra={"issue_id": issue_id})
    return stalled


# ---------------------------------------------------------------- dispatch


def dispatch(issue_id: str) -> None:
    """Render once, then queue the audience page by page, resuming where a crashed attempt stopped."""
    issue = issues.get(issue_id)
    if issue["status"] != "sending" or issue.get("dispatched"):
        return  # a duplicate dispatch message, or a finished one
    issue_rendering.store_rendered(issue)
    chosen = audiences.Audience.of(issue)
    cursor = issue.get("dispatch_cursor")
    settings = get_settings()
    sqs, queue = aws.sqs(), aws.queue_url(settings.send_queue)
    while True:
        page = _audience_page(json.loads(cursor) if cursor else None)
        ids, paused = _selected(page["Items"], chosen, clock.iso())
        _enqueue(sqs, queue, issue_id, ids)
        next_cursor = json.dumps(page["LastEvaluatedKey"]) if "LastEvaluatedKey" in page else None
        if not _advance(issue_id, cursor, next_cursor, len(ids), paused,
                        messages=-(-len(ids) // RECIPIENTS_PER_MESSAGE)):
            return  # a concurrent duplicate dispatch moved on first: it owns the rest
        cursor = next_cursor
        if cursor is None:
            break
    logger().info("issue dispatched", extra={"issue_id": issue_id})
    complete_if_done(issue_id)


def _audience_page(start: dict | None) -> dict:
    from boto3.dynamodb.conditions import Key

    kwargs = {"IndexName": "GSI1", "Limit": AUDIENCE_PAGE,
              "KeyConditionExpression": Key("GSI1PK").eq(keys.subscribers_by_status("confirmed")),
              "ProjectionExpression": "PK, topics, tags, paused_until"}
    if start:
        kwargs["ExclusiveStartKey"] = start
    return aws.table().query(**kwargs)


def _selected(items: list[dict], chosen: audiences.Audience, now_iso: str) -> tuple[list[str], int]:
    """The ids to queue from one page of confirmed people, and how many of the audience are paused."""
    ids, paused = [], 0
    for item in items:
        if not chosen.includes(item):
            continue
        if subscriptions.is_paused(item, now_iso):
            paused += 1
        else:
            ids.append(keys.subscriber_id(item))
    return ids, paused


def audience_count(chosen: audiences.Audience | None = None) -> tuple[int, int]:
    """How many people a send started now would queue, and how many it would skip as paused: the same
    query and rule as dispatch."""
    chosen = chosen or audiences.Audience()
    total = paused = 0
    start, now = None, clock.iso()
    while True:
        page = _audience_page(start)
        ids, skipped = _selected(page["Items"], chosen, now)
        total, paused = total + len(ids), paused + skipped
        start = page.get("LastEvaluatedKey")
        if not start:
            return total, paused


def _enqueue(sqs, queue: str, issue_id: str, ids: list[str]) -> None:
    batches = [ids[i:i + RECIPIENTS_PER_MESSAGE] for i in range(0, len(ids), RECIPIENTS_PER_MESSAGE)]
    for start in range(0, len(batches), 10):
        entries = [{"Id": str(n), "MessageBody": json.dumps({"issue_id": issue_id, "recipients": batch})}
                   for n, batch in enumerate(batches[start:start + 10])]
        result = sqs.send_message_batch(QueueUrl=queue, Entries=entries)
        if result.get("Failed"):
            raise RuntimeError(f"{len(result['Failed'])} send batches were not queued")  # the page is redone


def _advance(issue_id: str, cursor: str | None, next_cursor: str | None, queued: int, paused: int = 0,
             messages: int = 0) -> bool:
    """Record a queued page; False if another dispatch of the issue recorded it first. Counting only
    after the page is queued keeps `queued` exact after a crash. The page's paused people are final at
    once: counted as paused, never queued. `messages` (queue messages) tells senders how many of them
    can still be at work (delivery.SenderShare)."""
    names = {"#c": "dispatch_cursor"}
    values = {":n": queued, ":p": paused, ":m": messages}
    condition = "attribute_not_exists(#c)" if cursor is None else "#c = :old"
    if cursor is not None:
        values[":old"] = cursor
    if next_cursor is None:
        update = ("ADD queued :n, remaining :n, paused :p, messages :m SET dispatched = :yes, dispatched_at = :now "
                  "REMOVE #c, GSI2PK, GSI2SK")
        values.update({":yes": True, ":now": clock.iso()})
        if cursor is None:
            condition = "attribute_not_exists(#c) AND dispatched = :no"
            values[":no"] = False
    else:
        update = "ADD queued :n, remaining :n, paused :p, messages :m SET #c = :next"
        values[":next"] = next_cursor
    return dynamo.update_if(Key=keys.issue(issue_id), UpdateExpression=update, ConditionExpression=condition,
                            ExpressionAttributeNames=names, ExpressionAttributeValues=values)


def handle_dispatch(event) -> None:
    for record in event:
        dispatch(json.loads(record.body)["issue_id"])


# ---------------------------------------------------------------- counters and completion


_OUTCOME_METRICS = {"sent": Metric.NEWSLETTER_SENT, "failed": Metric.NEWSLETTER_FAILED,
                    "suppressed": Metric.NEWSLETTER_SUPPRESSED}


def count_message(issue_id: str, key: str, tally: dict[str, int]) -> int | None:
    """Add a settled queue message's outcomes to the issue's counters exactly once: its key joins the
    `counted` set in the same update (which is also what marks its claims as sent). Returns how many
    recipients remain, or None if the message was counted before."""
    done = tally["sent"] + tally["failed"] + tally["suppressed"] + tally["paused"]
    updated = dynamo.update_returning(
        Key=keys.issue(issue_id),
        UpdateExpression=("ADD sent :sent, failed :failed, suppressed :suppressed, paused :paused, "
                          "remaining :minus, counted :key"),
        ConditionExpression="NOT contains(counted, :k)",
        ExpressionAttributeValues={":sent": tally["sent"], ":failed": tally["failed"],
                                   ":suppressed": tally["suppressed"], ":paused": tally["paused"],
                                   ":minus": -done, ":key": {key}, ":k": key},
        ReturnValues="UPDATED_NEW")
    if updated is None:
        return None
    for name, metric in _OUTCOME_METRICS.items():
        if tally[name]:
            count(metric, tally[name])
    return int(updated.get("remaining", 1))


def complete_if_done(issue_id: str) -> bool:
    """Mark the issue sent once its whole audience is queued and every recipient has an outcome."""
    completed = dynamo.update_if(
        Key=keys.issue(issue_id), UpdateExpression="SET #s = :sent, completed_at = :now",
        ConditionExpression="#s = :sending AND dispatched = :yes AND remaining <= :zero",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":sent": "sent", ":sending": "sending", ":yes": True, ":zero": 0,
                                   ":now": clock.iso()})
    if not completed:
        return False
    issue_rendering.discard(issue_id)
    count(Metric.ISSUE_SENDS_COMPLETED)
    logger().info("issue send complete", extra={"issue_id": issue_id})
    return True


def count_on(issue_id: str, field: str, by: int = 1) -> None:
    """Add to an issue's after-send counts (bounced, complaints, unsubscribes): the overview's chart."""
    dynamo.update_if(Key=keys.issue(issue_id), UpdateExpression="ADD #f :n",
                     ConditionExpression="attribute_exists(PK)", ExpressionAttributeNames={"#f": field},
                     ExpressionAttributeValues={":n": by})


def latest_sent() -> dict | None:
    """The newsletter issue or announcement sent most recently."""
    sent = [i for i in issues.list_issues(limit=50) if i["status"] in issues.PUBLISHED and i.get("send_started_at")]
    return max(sent, key=lambda i: i["send_started_at"], default=None)


def count_on_latest(field: str) -> None:
    """An unsubscribe counts against the latest send before it ("unsubscribes after it")."""
    latest = latest_sent()
    if latest:
        count_on(latest["issue_id"], field)


# ---------------------------------------------------------------- progress and failures


def progress(issue_id: str) -> dict:
    issue = issues.get(issue_id)
    numbers = {k: int(issue.get(k, 0)) for k in COUNTERS}
    return {"issue_id": issue_id, "status": issue["status"], "dispatched": bool(issue.get("dispatched")),
            "done": issue["status"] == "sent", **numbers,
            "send_started_at": issue.get("send_started_at"), "completed_at": issue.get("completed_at")}


def failures(issue_id: str, limit: int = 200) -> list[dict]:
    """Failed deliveries with their reasons (no addresses: the coordinator sees ids and reasons)."""
    from boto3.dynamodb.conditions import Key

    page = aws.table().query(IndexName="GSI2", KeyConditionExpression=Key("GSI2PK").eq(keys.issue_failures(issue_id)),
                             Limit=limit)
    return [{"recipient_id": i["recipient_id"], "reason": i.get("reason", ""), "at": i.get("finished_at", "")}
            for i in page["Items"]]
