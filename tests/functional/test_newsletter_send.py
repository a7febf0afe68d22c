"""The newsletter send pipeline through its real handlers, against moto: once each, every outcome recorded."""
from __future__ import annotations

import json
import re
import uuid

import pytest

from tests.conftest import html_of, text_of

ISSUE = {"title": "Winter issue", "date": "2026-12-01", "introduction": "Hello from the **network**.",
         "sections": [{"kind": "text", "heading": "News", "body": "Some *news* and [a link](https://example.org)."}]}


@pytest.fixture(autouse=True)
def fast_sends(monkeypatch):
    monkeypatch.setenv("PEERPOST_SEND_RATE_PER_SECOND", "1000000")
    from chalicelib import issue_rendering, settings

    settings.reset()
    issue_rendering.prepared.cache_clear()
    yield
    issue_rendering.prepared.cache_clear()


def add_subscribers(n: int, status: str = "confirmed", topics=("newsletter",), prefix: str = "reader") -> list[str]:
    from chalicelib import aws, clock, keys, subscriptions

    now = clock.iso()
    emails = []
    with aws.table().batch_writer() as batch:
        for i in range(n):
            email = f"{prefix}{i}@example.org"
            sid = subscriptions.email_id(email)
            consent = {"wording_version": subscriptions.CONSENT_VERSION, "method": "test", "given_at": now,
                       "confirmed_at": now, "withdrawn_at": None}
            batch.put_item(Item={**keys.subscriber(sid), **keys.subscriber_index(status, now, sid), "email": email,
                                 "first_name": f"Reader {i}", "topics": list(topics), "status": status,
                                 "created_at": now, "consent": consent, "consent_history": [], "soft_bounces": 0})
            emails.append(email)
    return emails


def new_issue(**changes) -> str:
    from chalicelib import issues

    return issues.create(issues.parse_issue({**ISSUE, **changes}), by="zoe@peerpost.test")["issue_id"]


def runner():
    import boto3

    from app import app
    from localdev.runner import Runner

    return Runner(app, boto3.session.Session(region_name="eu-west-2"))


def receive_all(queue: str) -> list[dict]:
    from chalicelib import aws

    url, messages = aws.queue_url(queue), []
    while True:
        got = aws.sqs().receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0,
                                        AttributeNames=["All"]).get("Messages", [])
        fresh = [m for m in got if m["MessageId"] not in {x["MessageId"] for x in messages}]
        if not fresh:
            return messages
        messages += fresh
        for m in fresh:
            aws.sqs().delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def sqs_event(bodies: list[str], receive_count: int = 1) -> dict:
    """An SQS event with a distinct messageId per record (the Chalice test client gives them all one)."""
    return {"Records": [{"messageId": str(uuid.uuid4()), "receiptHandle": "r", "body": body,
                         "attributes": {"ApproximateReceiveCount": str(receive_count), "SentTimestamp": "1"},
                         "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
                         "eventSourceARN": "arn:aws:sqs:eu-west-2:123456789012:peerpost-send",
                         "awsRegion": "eu-west-2"} for body in bodies]}


def call(handler: str, event: dict):
    from app import app
    from localdev.runner import LambdaContext

    return app.handler_map[handler](event, LambdaContext(handler))


def start_and_dispatch(issue_id: str) -> list[str]:
    """Start the send and run the dispatch handler; returns the send-queue message bodies."""
    from chalicelib import send_run

    assert send_run.start(issue_id, by="zoe@peerpost.test")
    [dispatch] = receive_all("peerpost-dispatch")
    call("dispatch_issue", sqs_event([dispatch["Body"]]))
    return [m["Body"] for m in receive_all("peerpost-send")]


def test_end_to_end_each_subscriber_gets_exactly_one_copy_with_their_own_links(client, outbox):
    from chalicelib import send_run, subscriptions, tokens

    readers = add_subscribers(260)
    add_subscribers(5, status="pending", prefix="pending")
    add_subscribers(5, status="unsubscribed", prefix="gone")
    add_subscribers(5, topics=("events",), prefix="eventsonly")
    issue_id = new_issue()
    assert send_run.start(issue_id, by="zoe@peerpost.test")
    runner().drain_all()

    messages = outbox.messages()  # parsed with email.policy.strict: no defects anywhere
    assert sorted(str(m["To"]) for m in messages) == sorted(readers)
    for message in messages[::13]:
        address = str(message["To"])
        sid = subscriptions.email_id(address)
        i = int(re.search(r"\d+", address).group())
        assert f"Hello Reader {i}," in text_of(message) and f"Hello Reader {i}," in html_of(message)
        unsubscribe = re.search(r"<https://peerpost\.test(/unsubscribe/([^>]+))>", message["List-Unsubscribe"])
        assert tokens.verify("unsubscribe", unsubscribe.group(2)) == sid
        assert unsubscribe.group(1) in html_of(message) and unsubscribe.group(1) in text_of(message)
        preferences = re.search(r"https://peerpost\.test(/preferences/[A-Za-z0-9_.\-]+)", text_of(message)).group(1)
        page = client.http.get(preferences)
        assert page.status_code == 200 and address.encode() in page.body
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert message["Message-ID"].startswith(f"<{issue_id}.{sid}@")
    progress = send_run.progress(issue_id)
    assert progress | {"send_started_at": None, "completed_at": None} == {
        "issue_id": issue_id, "status": "sent", "dispatched": True, "done": True, "queued": 260, "sent": 260,
        "failed": 0, "suppressed": 0, "paused": 0, "remaining": 0, "send_started_at": None, "completed_at": None}


def test_a_double_clicked_send_queues_one_dispatch(client, coordinator, outbox):
    from tests.conftest import form

    add_subscribers(3)
    issue_id = new_issue()
    for _ in range(2):
        response = client.http.post(f"/coordinator/issues/{issue_id}/send", headers=coordinator["form_headers"],
                                    body=form({"csrf_token": coordinator["csrf"], "confirm": "yes"}))
        assert response.status_code == 303
    [dispatch] = receive_all("peerpost-dispatch")
    page = client.http.get(f"/coordinator/issues/{issue_id}?sending=1", headers=coordinator["headers"])
    assert page.status_code == 200 and b"Preparing the list of recipients" in page.body
    assert b'http-equiv="refresh"' in page.body  # the page follows the send until it is done
    assert b"Sending has started." in page.body
    call("dispatch_issue", sqs_event([dispatch["Body"]]))
    call("send_newsletter", sqs_event([m["Body"] for m in receive_all("peerpost-send")]))
    done = client.http.get(f"/coordinator/issues/{issue_id}?sending=1", headers=coordinator["headers"])
    assert b"Sending has started." not in done.body and b'http-equiv="refresh"' not in done.body  # a reload once sent


def test_duplicate_dispatch_and_duplicate_send_messages_send_nothing_twice(outbox):
    from chalicelib import send_run

    add_subscribers(60)
    issue_id = new_issue()
    bodies = start_and_dispatch(issue_id)
    call("dispatch_issue", sqs_event([json.dumps({"issue_id": issue_id})]))  # a duplicate dispatch: no-op
    assert receive_all("peerpost-send") == []
    result = call("send_newsletter", sqs_event(bodies + bodies[:2]))  # duplicates inside one batch
    assert result == {"batchItemFailures": []}
    result = call("send_newsletter", sqs_event(bodies))  # the whole batch again
    assert result == {"batchItemFailures": []}
    assert len(outbox.raw()) == 60
    assert len({str(m["To"]) for m in outbox.messages()}) == 60
    assert send_run.progress(issue_id)["sent"] == 60 and send_run.progress(issue_id)["status"] == "sent"


def test_a_crash_after_sending_is_not_resent_and_ends_as_failed_with_a_reason(outbox, monkeypatch):
    from chalicelib import clock, delivery, send_run

    add_subscribers(10)
    issue_id = new_issue()
    [body] = start_and_dispatch(issue_id)
    real_record = delivery.record
    monkeypatch.setattr(delivery, "record", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("Lambda died")))
    result = call("send_newsletter", sqs_event([body]))
    assert len(result["batchItemFailures"]) == 1
    assert len(outbox.raw()) == 10  # SES took them; the outcomes were never written
    monkeypatch.setattr(delivery, "record", real_record)

    # The redelivered message while the claims are fresh: someone may still be sending, so wait.
    assert len(call("send_newsletter", sqs_event([body], 2))["batchItemFailures"]) == 1
    clock.advance(delivery.LEASE_SECONDS + 1)
    assert call("send_newsletter", sqs_event([body], 3)) == {"batchItemFailures": []}
    assert len(outbox.raw()) == 10  # never a second copy
    progress = send_run.progress(issue_id)
    assert (progress["failed"], progress["remaining"], progress["status"]) == (10, 0, "sent")
    assert {f["reason"] for f in send_run.failures(issue_id)} == {
        "interrupted before its outcome was recorded; not resent, to avoid a duplicate"}


def test_a_sender_that_dies_after_counting_the_last_message_leaves_the_retry_to_mark_the_issue_sent(
        outbox, monkeypatch):
    """The count (which also marks the claims sent) and the issue's completion are two writes: an attempt
    can die, or lose DynamoDB's answer, between them. Its retry finds the message counted already."""
    from chalicelib import send_run

    add_subscribers(10)
    issue_id = new_issue()
    [body] = start_and_dispatch(issue_id)
    real_complete = send_run.complete_if_done
    died = lambda issue_id: (_ for _ in ()).throw(RuntimeError("Lambda died"))  # noqa: E731
    monkeypatch.setattr(send_run, "complete_if_done", died)
    assert len(call("send_newsletter", sqs_event([body]))["batchItemFailures"]) == 1
    progress = send_run.progress(issue_id)
    assert (progress["sent"], progress["remaining"], progress["status"]) == (10, 0, "sending")
    monkeypatch.setattr(send_run, "complete_if_done", real_complete)

    assert call("send_newsletter", sqs_event([body], 2)) == {"batchItemFailures": []}
    assert len(outbox.raw()) == 10  # nothing sent twice
    progress = send_run.progress(issue_id)
    assert (progress["sent"], progress["remaining"], progress["status"]) == (10, 0, "sent")


def test_throttling_releases_the_rest_for_a_retry_and_permanent_errors_are_recorded(outbox):
    from chalicelib import mail, send_run
    from chalicelib.errors import SendThrottled

    readers = add_subscribers(6)

    class Flaky(mail.SesSender):
        throttled = {readers[1], readers[2]}

        def send_raw(self, to, sender, raw, tags):
            if to == readers[0]:
                raise mail.PermanentSendError("MessageRejected")
            if to in self.throttled:
                self.throttled.discard(to)
                raise SendThrottled("slow down")
            return super().send_raw(to, sender, raw, tags)

    mail.use_sender(Flaky(sleep=lambda s: None))
    issue_id = new_issue()
    [body] = start_and_dispatch(issue_id)
    event = sqs_event([body])
    assert call("send_newsletter", event)["batchItemFailures"] == [
        {"itemIdentifier": event["Records"][0]["messageId"]}]
    assert send_run.progress(issue_id)["sent"] == 0  # counted once the whole message is settled
    assert call("send_newsletter", sqs_event([body], 2)) == {"batchItemFailures": []}
    assert sorted(str(m["To"]) for m in outbox.messages()) == sorted(readers[1:])
    progress = send_run.progress(issue_id)
    assert (progress["sent"], progress["failed"], progress["status"]) == (5, 1, "sent")
    assert send_run.failures(issue_id)[0]["reason"] == "SES refused the message: MessageRejected"


def test_repeated_transient_errors_end_as_failed_instead_of_the_dead_letter_queue(outbox):
    from botocore.exceptions import ClientError

    from chalicelib import delivery, mail, send_run

    add_subscribers(2)

    class Down(mail.SesSender):
        def send_raw(self, to, sender, raw, tags):
            raise ClientError({"Error": {"Code": "InternalFailure"}}, "SendEmail")

    mail.use_sender(Down())
    issue_id = new_issue()
    [body] = start_and_dispatch(issue_id)
    assert len(call("send_newsletter", sqs_event([body]))["batchItemFailures"]) == 1
    assert call("send_newsletter", sqs_event([body], delivery.GIVE_UP_AFTER_RECEIVES)) == {"batchItemFailures": []}
    assert send_run.progress(issue_id)["failed"] == 2
    assert all("gave up after 5 attempts: InternalFailure" == f["reason"] for f in send_run.failures(issue_id))


def test_a_message_running_out_of_time_leaves_the_rest_unclaimed_for_its_retry(outbox):
    from app import app
    from chalicelib import delivery, send_run
    from localdev.runner import LambdaContext

    readers = add_subscribers(10)
    issue_id = new_issue()
    [body] = start_and_dispatch(issue_id)

    class Running(LambdaContext):
        """Time runs out after four recipients."""
        checks = 0

        def get_remaining_time_in_millis(self) -> int:
            self.checks += 1
            return 60_000 if self.checks <= 4 else delivery.STOP_WITH_MS_LEFT - 1

    assert len(app.handler_map["send_newsletter"](sqs_event([body]), Running("send_newsletter"))
               ["batchItemFailures"]) == 1
    assert len(outbox.raw()) == 4
    assert call("send_newsletter", sqs_event([body], 2)) == {"batchItemFailures": []}  # no lease to wait for
    assert sorted(str(m["To"]) for m in outbox.messages()) == sorted(readers)
    progress = send_run.progress(issue_id)
    assert (progress["sent"], progress["failed"], progress["remaining"]) == (10, 0, 0)


def test_a_clean_send_writes_once_per_recipient_plus_once_per_queue_message(outbox, monkeypatch):
    """The design's request budget, counted at botocore: a claim per recipient and a counter update
    per queue message; no per-recipient outcome write, no per-recipient read."""
    from collections import Counter

    from chalicelib import aws, delivery, send_run

    monkeypatch.setattr(delivery.SenderShare, "RECHECK_SECONDS", 3600)  # a slow machine adds no re-read
    monkeypatch.setattr(delivery.SenderShare, "ENDGAME_RECHECK_SECONDS", 3600)

    add_subscribers(250)
    issue_id = new_issue()
    bodies = start_and_dispatch(issue_id)
    assert len(bodies) == 3  # 100 + 100 + 50
    calls: Counter = Counter()
    clients = {id(c): c for c in (aws.table().meta.client, aws.dynamodb_client())}.values()

    def counting(model, **kwargs):
        calls[model.name] += 1

    for client in clients:
        client.meta.events.register("before-call.dynamodb", counting)
    try:
        assert call("send_newsletter", sqs_event(bodies)) == {"batchItemFailures": []}
    finally:
        for client in clients:
            client.meta.events.unregister("before-call.dynamodb", counting)
    assert calls["PutItem"] == 250  # the claims
    assert calls["UpdateItem"] == 3 + 1  # one count per message, then the issue marked sent
    assert calls["BatchWriteItem"] == 0  # a sent copy writes nothing beyond its claim
    assert calls["DeleteItem"] == 1  # the stored rendering, once the send is done
    # A batch of people per message; the rendering; the issue's counters once per message (SenderShare).
    assert calls["BatchGetItem"] == 3 and calls["GetItem"] <= 3 + 3
    assert send_run.RECIPIENTS_PER_MESSAGE == 100


def test_people_who_leave_after_dispatch_are_suppressed_not_sent(outbox):
    from chalicelib import send_run, subscriptions

    readers = add_subscribers(4)
    issue_id = new_issue()
    [body] = start_and_dispatch(issue_id)
    subscriptions.suppress(readers[0], "complaint")
    token = subscriptions.links(subscriptions.email_id(readers[1]))["unsubscribe_url"].rsplit("/", 1)[1]
    subscriptions.unsubscribe(token, "one-click")
    assert call("send_newsletter", sqs_event([body])) == {"batchItemFailures": []}
    assert sorted(str(m["To"]) for m in outbox.messages()) == sorted(readers[2:])
    progress = send_run.progress(issue_id)
    assert (progress["sent"], progress["suppressed"], progress["remaining"]) == (2, 2, 0)


def test_an_empty_audience_finishes_at_once(outbox):
    from chalicelib import send_run

    issue_id = new_issue()
    assert start_and_dispatch(issue_id) == []
    assert send_run.progress(issue_id)["status"] == "sent"


def test_dispatch_pages_the_audience_and_resumes_after_a_crash(outbox, monkeypatch):
    from chalicelib import send_run

    monkeypatch.setattr(send_run, "AUDIENCE_PAGE", 40)
    add_subscribers(130)
    issue_id = new_issue()
    assert send_run.start(issue_id, by="zoe@peerpost.test")
    [dispatch] = receive_all("peerpost-dispatch")
    real_enqueue, calls = send_run._enqueue, []

    def crash_on_third(sqs, queue, issue, ids):
        calls.append(len(ids))
        if len(calls) == 3:
            raise RuntimeError("Lambda died")
        real_enqueue(sqs, queue, issue, ids)

    monkeypatch.setattr(send_run, "_enqueue", crash_on_third)
    with pytest.raises(RuntimeError):
        call("dispatch_issue", sqs_event([dispatch["Body"]]))
    assert send_run.progress(issue_id)["queued"] == 80
    call("dispatch_issue", sqs_event([dispatch["Body"]]))  # SQS delivers it again
    assert send_run.progress(issue_id)["queued"] == 130
    bodies = [m["Body"] for m in receive_all("peerpost-send")]
    assert sorted(len(json.loads(b)["recipients"]) for b in bodies) == [10, 40, 40, 40]
    assert call("send_newsletter", sqs_event(bodies))["batchItemFailures"] == []
    assert len(outbox.raw()) == 130
    assert send_run.progress(issue_id)["status"] == "sent"


def test_the_scheduler_sends_a_due_issue_once_and_not_a_cancelled_one(outbox):
    from chalicelib import clock, issues
    from localdev.runner import scheduled_event

    add_subscribers(3)
    due, cancelled = new_issue(), new_issue(title="Cancelled")
    london = clock.now().astimezone(issues.LONDON) + __import__("datetime").timedelta(hours=2)
    for issue_id in (due, cancelled):
        issues.schedule(issue_id, london.strftime("%Y-%m-%dT%H:%M"), by="zoe@peerpost.test")
    issues.cancel_schedule(cancelled, by="zoe@peerpost.test")
    call("send_due_issues", scheduled_event("send_due_issues"))
    assert receive_all("peerpost-dispatch") == []
    clock.advance(2 * 3600 + 60)
    call("send_due_issues", scheduled_event("send_due_issues"))
    call("send_due_issues", scheduled_event("send_due_issues"))
    [dispatch] = receive_all("peerpost-dispatch")
    assert json.loads(dispatch["Body"]) == {"issue_id": due}
    assert issues.get(cancelled)["status"] == "draft"


def test_a_story_withdrawn_part_way_through_a_send_is_in_no_later_copy(outbox):
    from chalicelib import aws, keys, stories

    submission = stories.parse_submission({
        "title": "Finding my group", "text": "Words only the first readers may see.", "name": "Sam Jones",
        "level": "first_name", "channels": ["newsletter"], "consent": "yes"})
    story_id = stories.submit(submission, "test")
    for status in ("in_review", "approved", "published"):
        stories.set_status(story_id, status)
    add_subscribers(4)
    issue_id = new_issue(sections=[{"kind": "story", "story_id": story_id}])
    [body] = start_and_dispatch(issue_id)
    recipients = json.loads(body)["recipients"]
    call("send_newsletter", sqs_event([json.dumps({"issue_id": issue_id, "recipients": recipients[:2]})]))
    stories.withdraw(story_id)
    call("send_newsletter", sqs_event([json.dumps({"issue_id": issue_id, "recipients": recipients[2:]})]))
    texts = [text_of(m) for m in outbox.messages()]
    assert len(texts) == 4
    assert sum("Words only the first readers may see." in t for t in texts) == 2
    assert aws.table().get_item(Key=keys.issue_rendered(issue_id)).get("Item") is None  # done: rendering gone


def test_marker_look_alikes_typed_by_people_are_just_text(outbox):
    from chalicelib import send_run, stories

    typed = ("Literally %%PP.foo%% and PPBLOCK0042X, PPBLOCK0000X, %%PP.name%%, %%PP.unsubscribe_url%%, "
             "%%PP.preferences_url%% and pp-recipient@placeholder.invalid here.")
    story_id = stories.submit(stories.parse_submission({
        "title": "Odd story", "text": typed, "name": "Kim", "level": "anonymous", "channels": ["newsletter"],
        "consent": "yes"}), "test")
    for status in ("in_review", "approved", "published"):
        stories.set_status(story_id, status)
    add_subscribers(3)
    issue_id = new_issue(sections=[{"kind": "text", "heading": "Odd text", "body": typed},
                                   {"kind": "story", "story_id": story_id}])
    [body] = start_and_dispatch(issue_id)
    assert call("send_newsletter", sqs_event([body])) == {"batchItemFailures": []}
    for message in outbox.messages():
        text, html = text_of(message), html_of(message)
        assert text.count(typed) == 2, "the section and the story keep exactly what was typed"
        assert html.count("PPBLOCK0000X, %%PP.name%%, %%PP.unsubscribe_url%%, %%PP.preferences_url%%") == 2
        assert html.count("pp-recipient@placeholder.invalid") == 2
        assert "/unsubscribe/" not in text.split("Odd story")[1].split("Unsubscribe")[0]
    assert send_run.progress(issue_id)["sent"] == 3


class SteppingClock:
    """Monotonic time that moves only as copies go out: 20 copies a second."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _published_story(title: str, text: str, name: str, level: str) -> str:
    from chalicelib import stories

    story_id = stories.submit(stories.parse_submission({
        "title": title, "text": text, "name": name, "level": level, "channels": ["newsletter", "archive"],
        "consent": "yes"}), "test")
    for status in ("in_review", "approved", "published"):
        stories.set_status(story_id, status)
    return story_id


def test_withdrawal_and_narrowing_mid_send_reach_every_copy_sent_a_second_later(outbox, monkeypatch):
    """300 readers in three queue messages; one contributor withdraws after copy 40, another narrows
    from full name to anonymous after copy 150. No copy sent more than a second later carries either."""
    from chalicelib import issue_rendering, mail, stories

    clock_ = SteppingClock()
    monkeypatch.setattr(issue_rendering, "consent_watch", issue_rendering.ConsentWatch(monotonic=clock_))
    withdrawn = _published_story("Leaving the ward", "Words that must stop at once.", "Alex Withdrawn", "full_name")
    narrowed = _published_story("My first group", "A story that stays, without my name.", "Robin Narrowed",
                                "full_name")
    sent: list[tuple[float, bytes]] = []
    changes = {40: lambda: stories.withdraw(withdrawn), 150: lambda: stories.change_consent(
        narrowed, {"level": "anonymous", "channels": ["newsletter", "archive"]})}

    class Sender(mail.RecordingSender):
        def send_raw(self, to, sender, raw, tags):
            sent.append((clock_.now, raw))
            clock_.now += 0.05
            if len(sent) in changes:
                changes[len(sent)]()
                changed_at[len(sent)] = clock_.now
            return super().send_raw(to, sender, raw, tags)

    changed_at: dict[int, float] = {}
    mail.use_sender(Sender())
    add_subscribers(300)
    issue_id = new_issue(sections=[{"kind": "story", "story_id": withdrawn}, {"kind": "story", "story_id": narrowed}])
    bodies = start_and_dispatch(issue_id)
    assert len(bodies) == 3
    for body in bodies:
        assert call("send_newsletter", sqs_event([body])) == {"batchItemFailures": []}
    assert len(sent) == 300

    def texts(after: float, before: float = float("inf")) -> list[str]:
        from email import message_from_bytes, policy

        return [message_from_bytes(raw, policy=policy.default).get_body(("plain",)).get_content()
                for at, raw in sent if after <= at < before]

    assert all("Words that must stop at once." in t for t in texts(0, changed_at[40] - 0.05))  # it was there
    late = texts(changed_at[40] + issue_rendering.CONSENT_RECHECK_SECONDS)
    assert len(late) >= 230 and not any("Words that must stop at once." in t or "Alex" in t for t in late)
    assert all("Robin Narrowed" in t for t in texts(0, changed_at[150] - 0.05))
    late = texts(changed_at[150] + issue_rendering.CONSENT_RECHECK_SECONDS)
    assert len(late) >= 120 and not any("Robin" in t for t in late)
    assert all("A story that stays, without my name." in t and "Anonymous" in t for t in late)


def test_an_issue_without_stories_reads_no_story_while_sending(outbox, monkeypatch):
    from chalicelib import issue_rendering, newsletter

    reads = []
    monkeypatch.setattr(newsletter, "shareable_story", lambda *a: reads.append(a))
    add_subscribers(5)
    issue_id = new_issue()
    [body] = start_and_dispatch(issue_id)
    reads.clear()
    call("send_newsletter", sqs_event([body]))
    assert reads == [] and len(outbox.messages()) == 5
    assert issue_rendering.consent_watch is not None


def test_a_lost_dispatch_message_is_queued_again_by_the_scheduler(outbox):
    from chalicelib import clock, send_run
    from localdev.runner import scheduled_event

    readers = add_subscribers(3)
    issue_id = new_issue()
    assert send_run.start(issue_id, by="zoe@peerpost.test")
    receive_all("peerpost-dispatch")  # the dispatch message is lost
    call("send_due_issues", scheduled_event("send_due_issues"))
    assert receive_all("peerpost-dispatch") == []  # too soon to call it stalled
    clock.advance(send_run.STALLED_AFTER_SECONDS + 60)
    call("send_due_issues", scheduled_event("send_due_issues"))
    [again] = receive_all("peerpost-dispatch")
    call("dispatch_issue", sqs_event([again["Body"]]))
    for body in [m["Body"] for m in receive_all("peerpost-send")]:
        call("send_newsletter", sqs_event([body]))
    assert sorted(str(m["To"]) for m in outbox.messages()) == sorted(readers)
    call("send_due_issues", scheduled_event("send_due_issues"))
    assert receive_all("peerpost-dispatch") == []  # dispatched: never queued again


def test_subscribers_dynamodb_leaves_unread_are_retried_never_recorded_as_erased(outbox, monkeypatch):
    from chalicelib import aws, delivery, keys, send_run

    add_subscribers(3)
    issue_id = new_issue()
    [body] = start_and_dispatch(issue_id)
    client = aws.dynamodb_client()
    real = client.batch_get_item
    monkeypatch.setattr(delivery.time, "sleep", lambda seconds: None)

    def nothing_processed(RequestItems):
        return {"Responses": {}, "UnprocessedKeys": RequestItems}

    monkeypatch.setattr(client, "batch_get_item", nothing_processed)
    assert len(call("send_newsletter", sqs_event([body]))["batchItemFailures"]) == 1
    rid = json.loads(body)["recipients"][0]
    assert aws.table().get_item(Key=keys.delivery(issue_id, rid)).get("Item") is None  # nobody claimed
    assert outbox.messages() == []
    monkeypatch.setattr(client, "batch_get_item", real)
    assert call("send_newsletter", sqs_event([body], receive_count=2)) == {"batchItemFailures": []}
    assert len(outbox.messages()) == 3 and send_run.progress(issue_id)["sent"] == 3


def test_near_the_end_the_senders_left_share_the_whole_rate(outbox, monkeypatch):
    """Eight senders at 40/s pace 0.2 s apart while eight or more messages are uncounted; with three
    left, no more than three senders can be at work, so each goes at a third of the rate; the last one
    alone takes the whole rate. Before the audience is all queued, the deployed concurrency holds."""
    from chalicelib import delivery, send_run, settings

    monkeypatch.setenv("PEERPOST_SEND_RATE_PER_SECOND", "40")
    monkeypatch.setenv("PEERPOST_SEND_CONCURRENCY", "8")
    settings.reset()
    add_subscribers(250)
    issue_id = new_issue()
    bodies = start_and_dispatch(issue_id)
    assert len(bodies) == 3
    assert delivery.SenderShare(issue_id).senders() == 3
    waits: list[int | None] = []
    monkeypatch.setattr(delivery.pacer, "wait", lambda senders=None: waits.append(senders))
    for body in map(json.loads, bodies):
        delivery.send_batch(body["issue_id"], body["recipients"])
    assert waits[:100] == [3] * 100 and waits[100:200] == [2] * 100 and waits[200:] == [1] * 50

    later = new_issue(title="Another")
    send_run.start(later, by="zoe@peerpost.test")
    assert delivery.SenderShare(later).senders() == 8  # not dispatched yet: more may be queued


def test_the_pacer_spaces_sends_by_the_senders_it_is_told_share_the_rate(monkeypatch):
    from chalicelib import pacing, settings

    monkeypatch.setenv("PEERPOST_SEND_RATE_PER_SECOND", "10")
    monkeypatch.setenv("PEERPOST_SEND_CONCURRENCY", "4")
    settings.reset()
    slept: list[float] = []
    pacer = pacing.Pacer(sleep=slept.append)
    for senders in (None, 4, 1, 1):
        pacer.wait(senders)
    assert slept == pytest.approx([0.4, 0.8, 0.9], abs=0.05)


def test_copies_in_flight_together_still_send_each_reader_once_and_retry_only_the_throttled(outbox, monkeypatch):
    """A sender with the whole rate and a slow SES keeps several copies at SES at once
    (PEERPOST_SEND_IN_FLIGHT, 4 here). Each reader still gets exactly one copy; readers SES throttled
    are released for the message's retry, which sends them and no one else."""
    import threading
    import time

    from chalicelib import mail, send_run, settings
    from chalicelib.errors import SendThrottled

    monkeypatch.setenv("PEERPOST_SEND_IN_FLIGHT", "4")
    settings.reset()
    readers = add_subscribers(120)
    lock, busy, peak = threading.Lock(), [0], [0]

    class Slow(mail.SesSender):
        throttled = {readers[5], readers[60], readers[110]}

        def send_raw(self, to, sender, raw, tags):
            with lock:
                busy[0] += 1
                peak[0] = max(peak[0], busy[0])
                throttle = to in self.throttled
                self.throttled.discard(to)
            try:
                time.sleep(0.02)  # SES's round trip
                if throttle:
                    raise SendThrottled("slow down")
                return super().send_raw(to, sender, raw, tags)
            finally:
                with lock:
                    busy[0] -= 1

    mail.use_sender(Slow(sleep=lambda s: None))
    issue_id = new_issue()
    bodies = start_and_dispatch(issue_id)
    assert len(bodies) == 2
    assert [len(call("send_newsletter", sqs_event([body]))["batchItemFailures"]) for body in bodies] == [1, 1]
    assert 2 <= peak[0] <= 4
    assert sorted(str(m["To"]) for m in outbox.messages()) == sorted(set(readers) - {readers[5], readers[60],
                                                                                   readers[110]})
    for body in bodies:
        assert call("send_newsletter", sqs_event([body], 2)) == {"batchItemFailures": []}
    assert sorted(str(m["To"]) for m in outbox.messages()) == sorted(readers)  # each once, none twice
    progress = send_run.progress(issue_id)
    assert (progress["sent"], progress["failed"], progress["remaining"], progress["status"]) == (120, 0, 0, "sent")
