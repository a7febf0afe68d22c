"""Issue 13, the sending side of the audience: who a send is for (topics and tags), announcements from
an event, a subscriber's pause, the suppression page, and what a person's page says was sent to them."""
from __future__ import annotations

import re

from tests.conftest import FORM, form, text_of
from tests.functional.test_audience import person, post, sid_of
from tests.functional.test_newsletter_send import add_subscribers, new_issue, runner
from tests.functional.test_subscriptions import confirmed, follow, link, subscribe


def recipients_of(outbox, subject: str) -> set[str]:
    return {m["To"] for m in outbox.messages() if m["Subject"] == subject}


def send(client, coordinator, issue_id: str, **audience) -> None:
    """Send from the confirmation page, with the audience its form carries."""
    data = {"csrf_token": coordinator["csrf"], "confirm": "yes", "audience_form": "1",
            "audience_topics": ["newsletter"], **audience}
    response = client.http.post(f"/coordinator/issues/{issue_id}/send", headers=coordinator["form_headers"],
                                body=form(data))
    assert response.status_code == 303, response.body
    runner().drain_all()


def test_a_send_to_announcements_narrowed_by_tag_reaches_exactly_those_people(client, outbox, coordinator):
    from chalicelib import audience, issues, send_run, subscriptions

    newsletter_only = add_subscribers(3, prefix="news")
    events_only = add_subscribers(3, topics=("events",), prefix="events")
    both = add_subscribers(2, topics=("newsletter", "events"), prefix="both")
    add_subscribers(2, status="pending", topics=("events",), prefix="pending")
    post(client, coordinator, "/coordinator/tags", {"tag": "peer worker"})
    (worker,) = audience.tags()
    tagged = [events_only[0], both[1], newsletter_only[0]]
    for email in tagged:
        audience.tag_person(subscriptions.email_id(email), worker, add=True)

    issue_id = new_issue(title="Training news")
    default = client.http.get(f"/coordinator/issues/{issue_id}/send", headers=coordinator["headers"]).body.decode()
    assert "<strong>5</strong> people" in default and "chose the monthly #PeerTalk newsletter" in default
    asked = client.http.get(f"/coordinator/issues/{issue_id}/send?audience_form=1&audience_topics=events"
                            f"&audience_tags={worker}", headers=coordinator["headers"]).body.decode()
    assert "<strong>2</strong> people" in asked and "tagged “peer worker”" in asked
    assert f'name="audience_tags" value="{worker}"' in asked  # the send form carries what was counted
    nobody = client.http.get(f"/coordinator/issues/{issue_id}/send?audience_form=1", headers=coordinator["headers"])
    assert nobody.status_code == 400 and b"Choose who it is for" in nobody.body
    assert issues.get(issue_id)["status"] == "draft"

    send(client, coordinator, issue_id, audience_topics=["events"], audience_tags=[worker])
    assert recipients_of(outbox, "#PeerTalk: Training news") == {events_only[0], both[1]}
    progress = send_run.progress(issue_id)
    assert progress["done"] and (progress["queued"], progress["sent"]) == (2, 2)
    page = client.http.get(f"/coordinator/issues/{issue_id}", headers=coordinator["headers"]).body.decode()
    assert "To every confirmed subscriber who chose event and training announcements, tagged “peer worker”." in page

    both_topics = new_issue(title="Everyone")
    send(client, coordinator, both_topics, audience_topics=["newsletter", "events"])
    assert recipients_of(outbox, "#PeerTalk: Everyone") == set(newsletter_only + events_only + both)  # once each
    assert len([m for m in outbox.messages() if m["Subject"] == "#PeerTalk: Everyone"]) == 8


def test_someone_who_loses_the_tag_after_dispatch_is_not_sent_it(client, outbox, coordinator):
    from chalicelib import audience, send_run, subscriptions

    emails = add_subscribers(2, topics=("events",), prefix="ev")
    post(client, coordinator, "/coordinator/tags", {"tag": "organisation"})
    (tag,) = audience.tags()
    for email in emails:
        audience.tag_person(subscriptions.email_id(email), tag, add=True)
    issue_id = new_issue(title="Orgs")
    send_run.start(issue_id, by="zoe@peerpost.test", audience=audience.Audience(("events",), (tag,)))
    send_run.dispatch(issue_id)
    audience.tag_person(subscriptions.email_id(emails[1]), tag, add=False)
    runner().drain_all()
    assert recipients_of(outbox, "#PeerTalk: Orgs") == {emails[0]}
    assert send_run.progress(issue_id)["suppressed"] == 1 and send_run.progress(issue_id)["done"]


def test_a_pause_skips_sends_counts_them_as_paused_and_ends_by_itself(client, outbox, coordinator):
    from chalicelib import clock, send_run, subscriptions

    reader = person(1, name="Robin")
    welcome = confirmed(client, outbox, reader)
    preferences = link(welcome, "preferences")
    page = client.http.get(preferences).body.decode()
    assert "Pause all email for" in page and 'value="3"' in page

    refused = client.http.post(f"{preferences}/pause", headers=FORM, body=form({"months": "12"}))
    assert refused.status_code == 400 and "1, 3 or 6 months" in refused.body.decode()
    paused = follow(client, client.http.post(f"{preferences}/pause", headers=FORM, body=form({"months": "1"})))
    assert "Your email is paused" in paused.body.decode() and "Start my email again now" in paused.body.decode()
    sid = sid_of(reader["email"])
    assert subscriptions.load(sid)["consent_history"][-1]["event"] == "paused"

    add_subscribers(2)
    first = new_issue(title="While paused")
    confirm = client.http.get(f"/coordinator/issues/{first}/send", headers=coordinator["headers"]).body.decode()
    assert "<strong>2</strong> people" in confirm and "1 more has paused their email" in confirm
    send(client, coordinator, first)
    assert reader["email"] not in recipients_of(outbox, "#PeerTalk: While paused")
    progress = send_run.progress(first)
    assert progress["done"] and (progress["sent"], progress["paused"]) == (2, 1)
    issue_page = client.http.get(f"/coordinator/issues/{first}", headers=coordinator["headers"]).body.decode()
    assert re.search(r'id="count-paused">1<', issue_page)
    person_page = client.http.get(f"/coordinator/subscribers/{sid}", headers=coordinator["headers"]).body.decode()
    assert "email paused until" in person_page

    clock.advance(32 * 86400)  # the month is over: nothing has to run for the pause to end
    later = new_issue(title="After the pause")
    send_run.start(later, by="zoe@peerpost.test")  # (the coordinator's session is long over by now)
    runner().drain_all()
    assert reader["email"] in recipients_of(outbox, "#PeerTalk: After the pause")

    # Paused again, then resumed at once: the next send reaches them; a second resume changes nothing.
    client.http.post(f"{preferences}/pause", headers=FORM, body=form({"months": "6"}))
    resumed = client.http.post(f"{preferences}/resume", headers=FORM, body="")
    assert resumed.headers["Location"].endswith("notice=resumed")
    again = client.http.post(f"{preferences}/resume", headers=FORM, body="")
    assert again.headers["Location"].endswith("notice=not-paused")
    assert not subscriptions.is_paused(subscriptions.load(sid))
    events = [e["event"] for e in subscriptions.load(sid)["consent_history"]]
    assert events[-3:] == ["paused", "paused", "resumed"]


def test_someone_who_pauses_after_dispatch_is_skipped_as_paused(client, outbox):
    from chalicelib import aws, clock, keys, send_run

    emails = add_subscribers(3)
    issue_id = new_issue(title="Mid-send pause")
    send_run.start(issue_id, by="zoe@peerpost.test")
    send_run.dispatch(issue_id)
    from chalicelib import subscriptions

    sid = subscriptions.email_id(emails[2])
    aws.table().update_item(Key=keys.subscriber(sid), UpdateExpression="SET paused_until = :u",
                            ExpressionAttributeValues={":u": clock.iso(clock.now().replace(year=clock.now().year + 1))})
    runner().drain_all()
    assert recipients_of(outbox, "#PeerTalk: Mid-send pause") == set(emails[:2])
    progress = send_run.progress(issue_id)
    assert progress["done"] and (progress["sent"], progress["paused"], progress["suppressed"]) == (2, 1, 0)
    assert aws.table().get_item(Key=keys.delivery(issue_id, sid))["Item"]["status"] == "paused"


def test_an_announcement_from_an_event_goes_to_announcements_and_the_archive_only_if_chosen(client, outbox, coordinator):
    from chalicelib import issues
    from tests.functional.test_events import make_event

    event = make_event(title="Peer Support Training")
    add_subscribers(2, prefix="news")
    wanted = add_subscribers(2, topics=("events",), prefix="events")
    page = client.http.get(f"/coordinator/events/{event['event_id']}", headers=coordinator["headers"]).body.decode()
    submission = re.search(r'name="submission_id" value="([^"]+)"', page).group(1)
    made = post(client, coordinator, f"/coordinator/events/{event['event_id']}/announcement", {"submission_id": submission})
    again = post(client, coordinator, f"/coordinator/events/{event['event_id']}/announcement", {"submission_id": submission})
    assert made.headers["Location"] == again.headers["Location"]  # a double press is one draft
    issue_id = made.headers["Location"].split("/")[3]
    draft = issues.get(issue_id)
    assert draft["kind"] == "announcement" and draft["title"] == "News about Peer Support Training"
    assert draft["sections"][0]["cta_url"].endswith(f"/events/{event['event_id']}")
    editor = client.http.get(made.headers["Location"], headers=coordinator["headers"]).body.decode()
    assert 'name="in_archive"' in editor

    confirm = client.http.get(f"/coordinator/issues/{issue_id}/send", headers=coordinator["headers"]).body.decode()
    assert "<strong>2</strong> people" in confirm and "event and training announcements" in confirm
    send(client, coordinator, issue_id, audience_topics=["events"])
    [copy, _] = [m for m in outbox.messages() if m["Subject"] == "News about Peer Support Training"]
    assert recipients_of(outbox, "News about Peer Support Training") == set(wanted)
    body = text_of(copy)
    assert "An announcement from #PeerTalk" in body and "THIS ISSUE" not in body and "/archive/" not in body
    assert "Register here" in body and "List-Unsubscribe" in copy  # the same pipeline: one-click unsubscribe too
    assert client.http.get(f"/archive/{issue_id}").status_code == 404
    assert issue_id not in client.http.get("/archive").body.decode()

    chosen = issues.announcement_for(event, by="zoe@peerpost.test")
    issues.update(chosen["issue_id"], issues.parse_issue({**chosen, "in_archive": "yes"}), by="zoe@peerpost.test")
    send(client, coordinator, chosen["issue_id"], audience_topics=["events"])
    assert client.http.get(f"/archive/{chosen['issue_id']}").status_code in (200, 301, 302, 303)


def test_the_suppression_page_lists_every_kind_and_a_bounce_is_lifted_only_with_a_reason(client, outbox, coordinator):
    import json

    from chalicelib import ses_events, subscriptions

    bounced, complained, erased = person(1, name="Bo"), person(2, name="Cy"), person(3, name="Di")
    for who in (bounced, complained, erased):
        confirmed(client, outbox, who)
    for who, kind in ((bounced, "Permanent"), (complained, None)):
        event = ({"eventType": "Bounce", "bounce": {"bounceType": kind, "bouncedRecipients": [{"emailAddress": who["email"]}]}}
                 if kind else {"eventType": "Complaint", "complaint": {"complainedRecipients": [{"emailAddress": who["email"]}]}})
        ses_events.handle(json.dumps(event))
    subscriptions.erase_subscriber(sid_of(erased["email"]))
    refused = post(client, coordinator, "/coordinator/suppressions", {"email": "not an address", "note": ""})
    assert refused.status_code == 400 and 'value="not an address"' in refused.body.decode()
    assert post(client, coordinator, "/coordinator/suppressions",
                {"email": "Never@Example.org", "note": "Asked by phone never to be emailed"}).status_code == 303

    page = client.http.get("/coordinator/suppressions", headers=coordinator["headers"]).body.decode()
    assert "Hard bounce" in page and "Spam complaint" in page and "Stopped by a coordinator" in page
    assert "An erased address" in page and erased["email"] not in page
    assert "An address we hold nothing else about" in page and "never@example.org" not in page.lower()
    assert bounced["email"] in page and "Never: their own word" in page

    # The subscribers page finds them as suppressed.
    listed = client.http.get("/coordinator/subscribers?status=suppressed", headers=coordinator["headers"]).body.decode()
    assert bounced["email"] in listed and complained["email"] in listed

    sid = sid_of(bounced["email"])
    no_reason = post(client, coordinator, f"/coordinator/suppressions/{sid}/lift", {"lift_reason": " "})
    assert no_reason.status_code == 400 and subscriptions.suppression_of(sid)
    lifted = post(client, coordinator, f"/coordinator/suppressions/{sid}/lift", {"lift_reason": "Mailbox fixed, said on the phone"})
    assert lifted.headers["Location"] == f"/coordinator/subscribers/{sid}?done=lifted"
    assert subscriptions.suppression_of(sid) is None and "suppressed" not in subscriptions.load(sid)
    assert subscriptions.load(sid)["consent_history"][-1]["reason"] == "Mailbox fixed, said on the phone"
    never = sid_of("never@example.org")  # nobody's record: the suppressions page itself comes back
    again = post(client, coordinator, f"/coordinator/suppressions/{never}/lift", {"lift_reason": "  "}).body.decode()
    assert '<a href="#lift_reason">' in again and 'id="lift_reason"' in again and 'aria-invalid="true"' in again
    assert again.count('id="lift_reason"') == 1 and subscriptions.suppression_of(never)
    complaint_sid = sid_of(complained["email"])
    assert post(client, coordinator, f"/coordinator/suppressions/{complaint_sid}/lift",
                {"lift_reason": "please"}).headers["Location"].endswith("done=not-lifted")
    assert subscriptions.suppression_of(complaint_sid)["reason"] == "complaint"

    # Lifted, they can sign up again and get the confirmation; the manual stop gets nothing at all.
    before = len(outbox.to(bounced["email"]))
    subscribe(client, bounced)
    assert len(outbox.to(bounced["email"])) == before + 1
    subscribe(client, {**person(4), "email": "never@example.org"})
    assert outbox.to("never@example.org") == []


def test_a_persons_page_shows_what_was_sent_to_them(client, outbox, coordinator):
    reader = person(1, name="Robin")
    confirmed(client, outbox, reader)
    add_subscribers(1)
    issue_id = new_issue(title="Spring issue")
    send(client, coordinator, issue_id)
    not_for_them = new_issue(title="Announcements only")
    send(client, coordinator, not_for_them, audience_topics=["events"])
    page = client.http.get(f"/coordinator/subscribers/{sid_of(reader['email'])}", headers=coordinator["headers"]).body.decode()
    section = page.split('id="sent-title"')[1].split("</section>")[0]
    assert "Spring issue" in section and "Sent" in section and "Announcements only" not in section
    assert "records no opens or clicks" in page


def test_a_duplicate_message_after_the_send_is_complete_settles_quietly(outbox):
    """The stored rendering (with its audience) is deleted when a send completes; a late duplicate
    queue message finds every recipient settled and neither fails nor sends."""
    from chalicelib import aws, delivery, issue_rendering, keys, send_run

    emails = add_subscribers(3)
    issue_id = new_issue(title="Once")
    send_run.start(issue_id, by="zoe@peerpost.test")
    runner().drain_all()
    assert send_run.progress(issue_id)["done"]
    assert "Item" not in aws.table().get_item(Key=keys.issue_rendered(issue_id))
    from chalicelib import subscriptions

    issue_rendering.prepared.cache_clear()
    tally = delivery.send_batch(issue_id, [subscriptions.email_id(e) for e in emails])
    assert tally["sent"] == 3 and len([m for m in outbox.messages() if m["Subject"] == "#PeerTalk: Once"]) == 3
