"""Injected faults: DynamoDB throttling and conditional failures, SQS redelivering a message two and
three times (also at once), and scheduled handlers running twice at once. Each time: no recipient gets
two copies, none is dropped without a recorded reason, no registration is lost or doubled, and the
send finishes or says exactly what is left. (SES throttling, SES permanent errors and a sender dying
mid-batch are in tests/functional/test_newsletter_send.py.)"""
from __future__ import annotations

import threading
from collections import Counter

import pytest

from tests.conftest import FORM
from tests.functional.test_events import make_event, person, register, until
from tests.functional.test_newsletter_send import add_subscribers, call, new_issue, receive_all, sqs_event, start_and_dispatch


@pytest.fixture(autouse=True)
def fast_and_atomic(monkeypatch):
    """Fast sends, and moto's in-process DynamoDB made atomic per call as the real one is (threads below)."""
    from chalicelib import issue_rendering, settings
    from localdev import atomic

    atomic.install()
    monkeypatch.setenv("PEERPOST_SEND_RATE_PER_SECOND", "1000000")
    settings.reset()
    issue_rendering.prepared.cache_clear()
    yield
    issue_rendering.prepared.cache_clear()


def at_once(target, times: int) -> list:
    results, errors = [None] * times, []

    def run(i):
        try:
            results[i] = target()
        except Exception as exc:  # collected: a thread's failure must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return results


class DynamoThrottle:
    """Makes the next `count` calls of one DynamoDB operation fail as throttled, before they reach moto."""

    def __init__(self, operation: str, count: int, after: int = 0) -> None:
        self.operation, self.left, self.skip = operation, count, after

    def __enter__(self):
        from chalicelib import aws

        # Both of PeerPost's DynamoDB clients: the Table's and the low-level one (claims, batch reads).
        self.events = [aws.table().meta.client.meta.events, aws.dynamodb_client().meta.events]
        for events in self.events:
            events.register(f"before-call.dynamodb.{self.operation}", self._maybe_fail)
        return self

    def __exit__(self, *exc):
        for events in self.events:
            events.unregister(f"before-call.dynamodb.{self.operation}", self._maybe_fail)

    def _maybe_fail(self, **kwargs):
        if self.skip > 0:
            self.skip -= 1
            return None
        if self.left <= 0:
            return None
        self.left -= 1
        from botocore.awsrequest import AWSResponse

        error = {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "throttled"},
                 "ResponseMetadata": {"HTTPStatusCode": 400}}
        return AWSResponse("https://dynamodb", 400, {}, None), error


def copies(outbox) -> Counter:
    return Counter(str(m["To"]) for m in outbox.messages())


def finish(body: str, issue_id: str, attempts: int = 6) -> None:
    from chalicelib import clock, delivery, send_run

    for receive in range(2, attempts + 2):
        if send_run.progress(issue_id)["done"]:
            return
        clock.advance(delivery.LEASE_SECONDS + 1)
        call("send_newsletter", sqs_event([body], receive))


def test_dynamodb_throttling_during_a_send_loses_and_doubles_nothing(outbox):
    from chalicelib import send_run

    readers = add_subscribers(12)
    issue_id = new_issue()
    [body] = start_and_dispatch(issue_id)
    with DynamoThrottle("PutItem", 3):
        first = call("send_newsletter", sqs_event([body]))
    assert len(first["batchItemFailures"]) == 1  # the message comes back; nothing is decided on a throttle
    finish(body, issue_id)
    assert copies(outbox) == Counter(readers)
    progress = send_run.progress(issue_id)
    assert (progress["sent"], progress["failed"], progress["remaining"], progress["status"]) == (12, 0, 0, "sent")


def test_a_claim_throttled_part_way_through_a_message_leaves_the_rest_to_its_retry(outbox):
    from chalicelib import send_run

    readers = add_subscribers(12)
    issue_id = new_issue()
    [body] = start_and_dispatch(issue_id)
    with DynamoThrottle("PutItem", 1, after=5):  # the sixth claim is throttled
        first = call("send_newsletter", sqs_event([body]))
    assert len(first["batchItemFailures"]) == 1
    assert len(outbox.raw()) == 5
    # At once, without waiting for any lease: the five sent are carried, the rest are sent now.
    assert call("send_newsletter", sqs_event([body], 2)) == {"batchItemFailures": []}
    assert copies(outbox) == Counter(readers)
    progress = send_run.progress(issue_id)
    assert (progress["sent"], progress["failed"], progress["status"]) == (12, 0, "sent")


def test_a_count_that_fails_after_sending_keeps_the_sends_for_the_retry(outbox):
    from chalicelib import send_run

    readers = add_subscribers(8)
    issue_id = new_issue()
    [body] = start_and_dispatch(issue_id)
    with DynamoThrottle("UpdateItem", 1):  # the message's counter update
        first = call("send_newsletter", sqs_event([body]))
    assert len(first["batchItemFailures"]) == 1 and len(outbox.raw()) == 8
    assert send_run.progress(issue_id)["sent"] == 0
    assert call("send_newsletter", sqs_event([body], 2)) == {"batchItemFailures": []}
    assert copies(outbox) == Counter(readers)
    progress = send_run.progress(issue_id)
    assert (progress["sent"], progress["failed"], progress["status"]) == (8, 0, "sent")


def test_sqs_delivering_a_batch_two_and_three_times_at_once_sends_each_once(outbox):
    from chalicelib import send_run

    readers = add_subscribers(30)
    issue_id = new_issue()
    bodies = start_and_dispatch(issue_id)
    at_once(lambda: call("send_newsletter", sqs_event(bodies)), 3)
    at_once(lambda: call("send_newsletter", sqs_event(bodies, 2)), 2)
    for body in bodies:
        finish(body, issue_id)
    assert copies(outbox) == Counter(readers)
    progress = send_run.progress(issue_id)
    assert progress["sent"] + progress["failed"] == 30 and progress["remaining"] == 0
    assert len(send_run.failures(issue_id)) == progress["failed"]  # every failure has its reason


def test_the_send_scheduler_running_twice_at_once_queues_one_dispatch(outbox):
    from datetime import timedelta

    from chalicelib import clock, issues
    from localdev.runner import scheduled_event

    add_subscribers(3)
    issue_id = new_issue()
    issues.schedule(issue_id, (clock.now().astimezone(issues.LONDON) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
                    by="zoe@peerpost.test")
    clock.advance(3600 + 60)
    at_once(lambda: call("send_due_issues", scheduled_event("send_due_issues")), 2)
    assert len(receive_all("peerpost-dispatch")) == 1


def test_reminders_running_twice_at_once_remind_each_person_once(client, outbox):
    from chalicelib import events

    event = make_event(capacity=5, days=3)
    for n in range(4):
        register(client, event, person(n))
    until(event["starts_at"], -23 * 3600)
    sent = at_once(events.send_reminders, 2)
    assert sum(sent) == 4
    reminders = [m for m in outbox.messages() if m["Subject"].startswith("Reminder:")]
    assert sorted(str(m["To"]) for m in reminders) == sorted(f"person{n}@example.org" for n in range(4))


def test_conditional_failures_under_contention_lose_and_double_no_registration(client, outbox):
    from chalicelib import events

    event = make_event(capacity=3, days=5)
    people = [person(n) for n in range(12)]
    at_once(lambda: [register(client, event, p) for p in people[:6]], 1)
    at_once(lambda: events.register(event["event_id"], events.parse_registration(people.pop()), "load"), 6)
    current = events.get(event["event_id"])
    regs = events.registrations(event["event_id"])
    assert len(regs) == 12 and len({r["email"] for r in regs}) == 12
    assert int(current["confirmed"]) == 3 and int(current["waiting"]) == 9
    assert sum(r["status"] == "confirmed" for r in regs) == 3
