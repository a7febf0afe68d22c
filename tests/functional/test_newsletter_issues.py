"""Composing, previewing, approving and scheduling issues through the coordinator pages; the archive."""
from __future__ import annotations

import pytest

from tests.conftest import FORM, form, html_of, text_of
from tests.functional.test_newsletter_send import ISSUE, add_subscribers, new_issue, runner


def issue_form(coordinator, **fields) -> str:
    data = {"csrf_token": coordinator["csrf"], "title": "Winter issue", "date": "2026-12-01",
            "introduction": "Hello.", "section_count": "2",
            "section-0-kind": "text", "section-0-heading": "News", "section-0-body": "Some **news**.",
            "section-1-kind": "text"}
    return form({**data, **fields})


def editor(client, coordinator, issue_id, **fields):
    """Post the editor as a browser would: every card's fields, plus the button pressed."""
    return client.http.post(f"/coordinator/issues/{issue_id}/edit", headers=coordinator["form_headers"],
                            body=form({"csrf_token": coordinator["csrf"], **fields}))


def card_fields(issue: dict) -> dict:
    from chalicelib import issue_editor, issues

    rows = issue_editor.rows_from_issue(issue)
    fields = {"title": issue["title"], "date": issue["date"], "introduction": issue["introduction"],
              "version": issues.revision(issue), "section_count": str(len(rows))}
    for n, row in enumerate(rows):
        fields.update({f"section-{n}-{k}": v for k, v in row.items()})
    return fields


def test_create_edit_and_validation_keep_what_was_typed(client, coordinator):
    from chalicelib import issues

    response = client.http.post("/coordinator/issues", headers=coordinator["form_headers"],
                                body=issue_form(coordinator, **{"section-0-image_url": "https://example.org/a.png"}))
    assert response.status_code == 400
    assert b"Describe the image for people who cannot see it." in response.body
    assert b"Some **news**." in response.body and b'value="https://example.org/a.png"' in response.body

    long_heading = "x" * (issues.MAX_HEADING + 1)
    response = client.http.post("/coordinator/issues", headers=coordinator["form_headers"],
                                body=issue_form(coordinator, **{
                                    "section-1-heading": long_heading, "section-1-cta_label": "Join us",
                                    "section-1-cta_url": "javascript:alert(1)"}))
    assert response.status_code == 400 and f"Use at most {issues.MAX_HEADING} characters.".encode() in response.body
    assert b"or an email link (starting mailto:)." in response.body and long_heading.encode() in response.body

    response = client.http.post("/coordinator/issues", headers=coordinator["form_headers"],
                                body=issue_form(coordinator, **{
                                    "section-1-heading": "Second", "section-1-cta_label": "Join us",
                                    "section-1-cta_url": "https://example.org/join"}))
    assert response.status_code == 303 and response.headers["Location"].endswith("/edit?created=1")
    issue_id = response.headers["Location"].split("/")[3]
    created = client.http.get(response.headers["Location"], headers=coordinator["headers"])
    assert b"Issue created." in created.body
    issue = issues.get(issue_id)
    assert [s["heading"] for s in issue["sections"]] == ["News", "Second"]
    assert issue["sections"][0]["html"] == "<p>Some <strong>news</strong>.</p>\n"

    edit = client.http.get(f"/coordinator/issues/{issue_id}/edit", headers=coordinator["headers"])
    assert edit.status_code == 200 and b"Join us" in edit.body
    response = editor(client, coordinator, issue_id, **{**card_fields(issue), "title": "Renamed", "action": "save"})
    assert response.status_code == 303 and response.headers["Location"].endswith("/edit?saved=1")
    assert issues.get(issue_id)["title"] == "Renamed"


def test_editor_cards_add_move_and_remove_without_javascript(client, coordinator, shared_story):
    from chalicelib import issues

    private_story()
    issue_id = new_issue()
    fields = card_fields(issues.get(issue_id))
    added = editor(client, coordinator, issue_id, **fields, action="add", add_kind="story")
    assert added.status_code == 200 and b"A shared story section added at the end. Not saved yet." in added.body
    assert b"Finding my group (shown as: Sam)" in added.body and b"Mine only" not in added.body
    assert b'name="section-1-kind" value="story"' in added.body
    assert b'name="section-1-body"' not in added.body  # a story card shows only a story's fields
    assert b'data-unsaved="yes"' in added.body  # the script asks before leaving
    assert len(issues.get(issue_id)["sections"]) == 1  # nothing saved by a card action

    fields.update({"section_count": "2", "section-1-kind": "story", "section-1-story_id": shared_story})
    moved = editor(client, coordinator, issue_id, **fields, action="up-1")
    assert moved.status_code == 200 and b"Section moved up to position 1." in moved.body
    assert moved.body.index(b'name="section-0-kind" value="story"') < moved.body.index(b'name="section-1-kind" value="text"')
    fields.update({"section-0-kind": "story", "section-0-story_id": shared_story, "section-0-heading": "",
                   "section-1-kind": "text", "section-1-heading": "News",
                   "section-1-body": ISSUE["sections"][0]["body"], "section-1-story_id": ""})
    for key in ("section-0-body", "section-0-cta_label", "section-0-cta_url"):
        fields.pop(key, None)
    saved = editor(client, coordinator, issue_id, **fields, action="save")
    assert saved.status_code == 303
    assert [s["kind"] for s in issues.get(issue_id)["sections"]] == ["story", "text"]

    fields["version"] = issues.revision(issues.get(issue_id))
    removed = editor(client, coordinator, issue_id, **fields, action="remove-0")
    assert b"Section 1 removed." in removed.body and b'name="section-0-kind" value="story"' not in removed.body
    image = editor(client, coordinator, issue_id, **fields, action="add", add_kind="image")
    assert b'name="section-2-image_url"' in image.body and b"Caption (Markdown)" in image.body
    assert b'name="section-2-cta_url"' not in image.body
    refused = editor(client, coordinator, issue_id, **{**fields, "section_count": "3", "section-2-kind": "image",
                                                       "section-2-heading": "A picture"}, action="save")
    assert refused.status_code == 400 and b"Upload an image, or give its address (https://)." in refused.body
    assert b'href="#section-2-image_url"' in refused.body and b'value="A picture"' in refused.body


def test_a_save_over_someone_elses_newer_save_is_refused_and_keeps_the_text(client, coordinator):
    from chalicelib import issues

    issue_id = new_issue()
    opened = card_fields(issues.get(issue_id))  # both coordinators open the editor
    issues.update(issue_id, issues.parse_issue({**ISSUE, "title": "Sam's title"}), by="sam@peerpost.test",
                  seen=opened["version"])
    mine = editor(client, coordinator, issue_id, **{**opened, "introduction": "My careful words."}, action="save")
    assert mine.status_code == 409
    assert b"sam@peerpost.test saved this issue" in mine.body and b"My careful words." in mine.body
    assert issues.get(issue_id)["title"] == "Sam&#39;s title".replace("&#39;", "'")  # theirs stands
    autosave = client.http.post(f"/coordinator/issues/{issue_id}/autosave", headers=coordinator["form_headers"],
                                body=form({"csrf_token": coordinator["csrf"], **opened}))
    assert autosave.status_code == 409 and "saved this issue" in autosave.json_body["message"]
    fresh = card_fields(issues.get(issue_id))
    ok = client.http.post(f"/coordinator/issues/{issue_id}/autosave", headers=coordinator["form_headers"],
                          body=form({"csrf_token": coordinator["csrf"], **fresh, "title": "Autosaved"}))
    assert ok.status_code == 200 and ok.json_body["saved"] is True
    assert issues.get(issue_id)["title"] == "Autosaved" and ok.json_body["version"] == issues.revision(issues.get(issue_id))
    bad = client.http.post(f"/coordinator/issues/{issue_id}/autosave", headers=coordinator["form_headers"],
                           body=form({"csrf_token": coordinator["csrf"], **card_fields(issues.get(issue_id)), "title": ""}))
    assert bad.status_code == 400 and bad.json_body["fields"]["title"] == "Give the issue a title."


def test_start_a_new_issue_from_one_and_delete_an_unsent_draft(client, coordinator, outbox):
    from chalicelib import issues, send_run
    from chalicelib.errors import NotFound

    source = new_issue(title="October issue")
    copied = client.http.post(f"/coordinator/issues/{source}/copy", headers=coordinator["form_headers"],
                              body=form({"csrf_token": coordinator["csrf"]}))
    assert copied.status_code == 303
    copy_id = copied.headers["Location"].split("/")[3]
    copy = issues.get(copy_id)
    assert copy["title"] == "Copy of October issue" and copy["status"] == "draft"
    assert [s["body"] for s in copy["sections"]] == [s["body"] for s in issues.get(source)["sections"]]
    unticked = client.http.post(f"/coordinator/issues/{copy_id}/delete", headers=coordinator["form_headers"],
                                body=form({"csrf_token": coordinator["csrf"]}))
    assert unticked.status_code == 400 and issues.get(copy_id)
    deleted = client.http.post(f"/coordinator/issues/{copy_id}/delete", headers=coordinator["form_headers"],
                               body=form({"csrf_token": coordinator["csrf"], "confirm": "yes"}))
    assert deleted.status_code == 303
    with pytest.raises(NotFound):
        issues.get(copy_id)
    assert b"Draft deleted." in client.http.get(deleted.headers["Location"], headers=coordinator["headers"]).body
    add_subscribers(1)
    send_run.start(source, by="zoe@peerpost.test")
    refused = client.http.post(f"/coordinator/issues/{source}/delete", headers=coordinator["form_headers"],
                               body=form({"csrf_token": coordinator["csrf"], "confirm": "yes"}))
    assert refused.status_code == 409 and issues.get(source)["status"] == "sending"


def test_pages_refuse_strangers_and_forged_forms(client, coordinator):
    issue_id = new_issue()
    assert client.http.get(f"/coordinator/issues/{issue_id}").status_code == 303
    assert client.http.post(f"/coordinator/issues/{issue_id}/send", headers=FORM, body="").status_code == 401
    forged = client.http.post(f"/coordinator/issues/{issue_id}/send", headers=coordinator["form_headers"],
                              body=form({"csrf_token": "forged"}))
    assert forged.status_code == 403


def test_markdown_is_sanitised():
    from chalicelib import newsletter

    html = newsletter.markdown_html(
        "# Big\n\n<script>alert(1)</script> [x](javascript:alert(1)) <img src=x onerror=alert(1)> "
        "[ok](https://example.org) ![i](https://example.org/i.png)")
    assert "<script" not in html and 'href="javascript' not in html and "<img" not in html
    assert "&lt;script&gt;" in html  # shown as the text that was typed, never run
    assert "<h3>Big</h3>" in html and 'href="https://example.org"' in html and "noopener" in html


def test_preview_shows_desktop_and_mobile_and_the_document_has_its_own_csp(client, coordinator):
    issue_id = new_issue()
    page = client.http.get(f"/coordinator/issues/{issue_id}/preview", headers=coordinator["headers"])
    assert page.status_code == 200
    assert b'class="preview-desktop"' in page.body and b'class="preview-mobile"' in page.body
    assert b"Hello Zoe," in page.body  # the plain-text version, personalised with the coordinator's name
    document = client.http.get(f"/coordinator/issues/{issue_id}/preview.html", headers=coordinator["headers"])
    assert document.status_code == 200 and b'lang="en-GB"' in document.body
    assert "style-src 'unsafe-inline'" in document.headers["Content-Security-Policy"]
    assert b"%%PP." not in document.body


def test_a_test_send_goes_to_the_coordinator_only(client, coordinator, outbox):
    add_subscribers(3)
    issue_id = new_issue()
    response = client.http.post(f"/coordinator/issues/{issue_id}/test", headers=coordinator["form_headers"],
                                body=form({"csrf_token": coordinator["csrf"]}))
    assert response.status_code == 303
    [message] = outbox.messages()
    assert str(message["To"]) == "zoe@peerpost.test"
    assert message["Subject"] == "[Test] #PeerTalk: Winter issue"
    assert "Hello Zoe," in text_of(message) and "<strong>network</strong>" in html_of(message)
    from chalicelib import issues

    assert issues.get(issue_id)["status"] == "draft"


def test_the_rendered_issue_is_accessible_and_has_contents_and_footer(tables):
    from chalicelib import issues, newsletter

    issue = issues.get(new_issue(sections=[
        {"kind": "text", "heading": "With a picture", "body": "Words", "image_url": "https://example.org/p.png",
         "image_alt": "Two people talking on a bench", "cta_label": "Read more", "cta_url": "https://example.org"},
        {"kind": "text", "heading": "Second", "body": "More"}]))
    rendered = newsletter.render(issue)
    assert '<html lang="en-GB"' in rendered.html or "lang=\"en-GB\"" in rendered.html
    assert 'alt="Two people talking on a bench"' in rendered.html
    assert "<h1>Winter issue</h1>" in rendered.html and '<h2 id="section-1">With a picture</h2>' in rendered.html
    assert '<a href="#section-2">Second</a>' in rendered.html  # "This issue" contents
    assert "Samaritans" in rendered.html and "Samaritans" in rendered.text
    assert "Read more: https://example.org" in rendered.text and "[Image: Two people talking on a bench]" in rendered.text
    P = rendered.markers.placeholder
    assert P("unsubscribe_url") in rendered.html and P("preferences_url") in rendered.text
    public = newsletter.render(issue, channel="archive", personal=False)
    assert "%%PP." not in public.html + public.text and "/unsubscribe" not in public.html + public.text


@pytest.fixture
def shared_story(tables):
    """A published story whose contributor consented to the newsletter and the archive, with a note."""
    from chalicelib import stories

    submission = stories.parse_submission({
        "title": "Finding my group", "text": "I was alone.\n\nThen I was not.", "name": "Sam Jones",
        "email": "sam.story@example.org", "content_notes": "self-harm", "level": "first_name",
        "channels": ["newsletter", "archive"], "consent": "yes"})
    story_id = stories.submit(submission, "test")
    for status in ("in_review", "approved", "published"):
        stories.set_status(story_id, status)
    return story_id


def private_story() -> str:
    from chalicelib import stories

    return stories.submit(stories.parse_submission({
        "title": "Mine only", "text": "Not for sharing.", "name": "Lee", "email": "lee@example.org",
        "level": "private", "channels": [], "consent": "yes"}), "test")


def test_stories_only_with_consent_with_content_notes_first_and_the_diary_from_events(shared_story):
    from chalicelib import issues, newsletter
    from localdev.demo_events import seed_events

    seed_events()
    issue = issues.get(new_issue(sections=[
        ISSUE["sections"][0], {"kind": "story", "story_id": shared_story},
        {"kind": "story", "story_id": private_story()}, {"kind": "diary"}]))
    rendered = newsletter.render(issue)
    assert rendered.html.index("Content note:") < rendered.html.index("I was alone.")
    assert "Content note: this story mentions self-harm" in rendered.text
    assert "Finding my group" in rendered.html and "Sam" in rendered.text and "Jones" not in rendered.text
    assert "Not for sharing." not in rendered.html + rendered.text  # no consent: left out entirely
    assert rendered.html.count("<h2 id=") == 3
    assert "Peer Worker Network Meeting" in rendered.text and "When: " in rendered.text
    assert '<a href="#section-4">Dates for the diary</a>' in rendered.html


def test_a_story_withdrawn_before_sending_is_not_sent(shared_story, outbox):
    from chalicelib import send_run, stories

    add_subscribers(2)
    issue_id = new_issue(sections=[ISSUE["sections"][0], {"kind": "story", "story_id": shared_story}])
    stories.withdraw(shared_story)
    send_run.start(issue_id, by="zoe@peerpost.test")
    runner().drain_all()
    copies = [m for m in outbox.messages() if m["Subject"] == "#PeerTalk: Winter issue"]
    assert len(copies) == 2 and all("I was alone." not in text_of(m) for m in copies)


def test_the_archive_lists_sent_issues_and_drops_a_withdrawn_story_at_once(client, outbox, shared_story):
    from chalicelib import issues, send_run, stories

    issue_id = new_issue(sections=[ISSUE["sections"][0], {"kind": "story", "story_id": shared_story}])
    draft_id = new_issue(title="Not sent yet")
    add_subscribers(2)
    send_run.start(issue_id, by="zoe@peerpost.test")
    runner().drain_all()
    copies = [m for m in outbox.messages() if m["Subject"] == "#PeerTalk: Winter issue"]
    assert len(copies) == 2 and all("I was alone." in text_of(m) for m in copies)
    listing = client.http.get("/archive")
    assert b"Winter issue" in listing.body and b"Not sent yet" not in listing.body
    assert client.http.get(f"/archive/{draft_id}").status_code == 404
    page = client.http.get(issues.archive_path(issues.get(issue_id)))
    assert page.status_code == 200 and b"I was alone." in page.body
    assert b"/unsubscribe/" not in page.body and b"/preferences/" not in page.body and b"%%PP" not in page.body
    stories.withdraw(shared_story)  # the contributor withdraws after the send
    assert b"I was alone." not in client.http.get(issues.archive_path(issues.get(issue_id))).body


def test_approval_by_a_second_coordinator(client, coordinator):
    from chalicelib import auth, issues, send_run
    from chalicelib.errors import Conflict

    issue_id = issues.create(issues.parse_issue({**ISSUE, "requires_approval": True}), by="zoe@peerpost.test")["issue_id"]
    page = client.http.get(f"/coordinator/issues/{issue_id}", headers=coordinator["headers"])
    assert b"Send now" not in page.body and b"once another coordinator has approved it" in page.body
    refused = client.http.post(f"/coordinator/issues/{issue_id}/send", headers=coordinator["form_headers"],
                               body=form({"csrf_token": coordinator["csrf"], "confirm": "yes"}))
    # Not a dead end: the issue's own page again, saying why, with the way on.
    assert refused.status_code == 409 and b"<h1>Winter issue</h1>" in refused.body
    assert b"needs a second coordinator&#39;s approval" in refused.body and b'href="#send"' in refused.body
    assert client.http.get(f"/coordinator/issues/{issue_id}/send", headers=coordinator["headers"]).status_code == 409
    with pytest.raises(Conflict):
        issues.approve(issue_id, by="zoe@peerpost.test")  # not your own work
    auth.create_coordinator("sam@peerpost.test", "another long password", name="Sam")
    issues.approve(issue_id, by="sam@peerpost.test")
    issues.update(issue_id, issues.parse_issue({**ISSUE, "title": "Changed", "requires_approval": True}),
                  by="zoe@peerpost.test")
    assert "approved_by" not in issues.get(issue_id)  # an edit needs a fresh approval
    issues.approve(issue_id, by="sam@peerpost.test")
    assert send_run.start(issue_id, by="zoe@peerpost.test")


def test_schedule_in_london_time_and_cancel(client, coordinator):
    from chalicelib import issues

    issue_id = new_issue()
    asked = client.http.post(f"/coordinator/issues/{issue_id}/schedule", headers=coordinator["form_headers"],
                             body=form({"csrf_token": coordinator["csrf"], "send_at": "2099-07-01T09:00"}))
    assert asked.status_code == 200 and b"Yes, schedule it for Wednesday 1 July 2099, 9:00am" in asked.body
    assert issues.get(issue_id)["status"] == "draft"  # nothing scheduled until confirmed
    response = client.http.post(f"/coordinator/issues/{issue_id}/schedule", headers=coordinator["form_headers"],
                                body=form({"csrf_token": coordinator["csrf"], "send_at": "2099-07-01T09:00",
                                           "confirm": "yes"}))
    assert response.status_code == 303
    assert issues.get(issue_id)["scheduled_for"] == "2099-07-01T08:00:00+00:00"  # BST
    page = client.http.get(response.headers["Location"], headers=coordinator["headers"])
    assert b"Cancel the scheduled send" in page.body
    assert b"Scheduled for Wednesday 1 July 2099, 9:00am (London time)." in page.body
    cancelled = client.http.post(f"/coordinator/issues/{issue_id}/cancel", headers=coordinator["form_headers"],
                                 body=form({"csrf_token": coordinator["csrf"]}))
    assert issues.get(issue_id)["status"] == "draft"
    page = client.http.get(cancelled.headers["Location"], headers=coordinator["headers"])
    assert b"Schedule cancelled. The issue is a draft again." in page.body
    again = client.http.post(f"/coordinator/issues/{issue_id}/cancel", headers=coordinator["form_headers"],
                             body=form({"csrf_token": coordinator["csrf"]}))
    assert again.status_code == 409 and b"not scheduled any more" in again.body and b"<h1>Winter issue</h1>" in again.body
    past = client.http.post(f"/coordinator/issues/{issue_id}/schedule", headers=coordinator["form_headers"],
                            body=form({"csrf_token": coordinator["csrf"], "send_at": "2001-01-01T09:00"}))
    assert past.status_code == 400 and b"Choose a time in the future." in past.body


def test_london_times_that_do_not_exist_or_happen_twice_are_refused():
    from chalicelib import issues
    from chalicelib.errors import ValidationError

    assert issues.london_to_utc("2099-01-15T09:00").hour == 9  # GMT
    for moment in ("2026-03-29T01:30", "2026-10-25T01:30"):
        with pytest.raises(ValidationError):
            issues.london_to_utc(moment)


def test_progress_page_and_api_show_counts_and_failure_reasons(client, coordinator, outbox):
    from chalicelib import mail, send_run

    readers = add_subscribers(3)

    class Rejecting(mail.SesSender):
        def send_raw(self, to, sender, raw, tags):
            if to == readers[0]:
                raise mail.PermanentSendError("MessageRejected")
            return super().send_raw(to, sender, raw, tags)

    mail.use_sender(Rejecting())
    issue_id = new_issue()
    send_run.start(issue_id, by="zoe@peerpost.test")
    runner().drain_all()
    page = client.http.get(f"/coordinator/issues/{issue_id}", headers=coordinator["headers"])
    assert b'id="count-sent">2<' in page.body and b'id="count-failed">1<' in page.body
    assert b"SES refused the message: MessageRejected" in page.body and b"Done" in page.body
    data = client.http.get(f"/api/coordinator/issues/{issue_id}/progress",
                           headers={"Authorization": f"Bearer {coordinator['token']}"}).json_body
    assert (data["sent"], data["failed"], data["remaining"], data["done"]) == (2, 1, 0, True)
    assert data["failures"][0]["reason"] == "SES refused the message: MessageRejected"


def test_send_now_shows_who_will_get_it_and_sends_only_when_confirmed(client, coordinator, outbox):
    from chalicelib import issues
    from tests.functional.test_newsletter_send import receive_all

    add_subscribers(4)
    add_subscribers(2, status="pending", prefix="pending")
    add_subscribers(3, topics=("announcements",), prefix="events-only")
    issue_id = new_issue()
    page = client.http.get(f"/coordinator/issues/{issue_id}", headers=coordinator["headers"])
    assert f'href="/coordinator/issues/{issue_id}/send"'.encode() in page.body  # a link to a page, not a button
    confirm = client.http.get(f"/coordinator/issues/{issue_id}/send", headers=coordinator["headers"])
    assert confirm.status_code == 200
    assert b"<strong>4</strong> people" in confirm.body and b"#PeerTalk: Winter issue" in confirm.body
    assert b"news@" in confirm.body or b"From" in confirm.body
    unconfirmed = client.http.post(f"/coordinator/issues/{issue_id}/send", headers=coordinator["form_headers"],
                                   body=form({"csrf_token": coordinator["csrf"]}))
    assert unconfirmed.status_code == 303 and unconfirmed.headers["Location"].endswith(f"/{issue_id}/send")
    assert issues.get(issue_id)["status"] == "draft" and receive_all("peerpost-dispatch") == []
    sent = client.http.post(f"/coordinator/issues/{issue_id}/send", headers=coordinator["form_headers"],
                            body=form({"csrf_token": coordinator["csrf"], "confirm": "yes"}))
    assert sent.status_code == 303
    assert issues.get(issue_id)["status"] == "sending"
    runner().drain_all()
    assert len([m for m in outbox.messages() if m["Subject"] == "#PeerTalk: Winter issue"]) == 4
    # Once sending, the confirmation page leads back to the progress instead of offering to send again.
    assert client.http.get(f"/coordinator/issues/{issue_id}/send", headers=coordinator["headers"]).status_code == 303


def test_the_archive_pages_through_sent_issues_whatever_drafts_lie_between(client):
    from chalicelib import aws, issues, keys

    sent = []
    for n in range(25):
        issue_id = new_issue(title=f"Sent {n:02d}", date=f"2025-{n % 12 + 1:02d}-{n + 1:02d}")
        aws.table().update_item(Key=keys.issue(issue_id), UpdateExpression="SET #s = :sent",
                                ExpressionAttributeNames={"#s": "status"}, ExpressionAttributeValues={":sent": "sent"})
        sent.append(issue_id)
    for n in range(60):  # newer drafts than every sent issue: they used to push the sent ones out
        new_issue(title=f"Draft {n:02d}", date="2026-12-01")
    first = client.http.get("/archive")
    assert first.status_code == 200 and b"Draft" not in first.body
    assert first.body.count(b'<li><a href="/archive/') == 20
    older = first.body.split(b'href="/archive?before=')[1].split(b'"')[0].decode()
    second = client.http.get(f"/archive?before={older}")
    assert second.body.count(b'<li><a href="/archive/') == 5 and b"Older issues" not in second.body
    shown = {i for page in (first, second) for i in sent if f"/archive/{i}\"".encode() in page.body}
    assert shown == set(sent)
    assert client.http.get("/archive?before=nonsense").status_code == 404


def test_an_archived_issue_is_a_page_of_the_site_with_consent_as_it_is_now(client, outbox, shared_story):
    from chalicelib import issues, send_run, stories

    issue_id = new_issue(sections=[ISSUE["sections"][0], {"kind": "story", "story_id": shared_story}])
    send_run.start(issue_id, by="zoe@peerpost.test")
    runner().drain_all()
    page = client.http.get(issues.archive_path(issues.get(issue_id)))
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    body = page.body.decode()
    assert '<header class="site">' in body and '<main id="main"' in body and 'aria-label="Main"' in body
    assert "<h1>Winter issue</h1>" in body and "I was alone." in body and "Some <em>news</em>" in body
    assert "<em>Sam</em>" in body
    assert "%%PP" not in body and "PPBLOCK" not in body and "/unsubscribe/" not in body
    assert "'unsafe-inline'" not in page.headers["Content-Security-Policy"]  # the site's own policy
    stories.change_consent(shared_story, {"level": "anonymous", "channels": ["archive"]})
    body = client.http.get(issues.archive_path(issues.get(issue_id))).body.decode()
    assert "I was alone." in body and "<em>Anonymous</em>" in body and "<em>Sam</em>" not in body


def test_a_test_goes_to_up_to_five_addresses_marked_as_a_test_and_never_counts(client, coordinator, outbox):
    from chalicelib import issues, send_run

    issue_id = new_issue()
    post = lambda to: client.http.post(f"/coordinator/issues/{issue_id}/test",  # noqa: E731
                                       headers=coordinator["form_headers"],
                                       body=form({"csrf_token": coordinator["csrf"], "test_to": to}))
    six = "\n".join(f"t{n}@example.org" for n in range(6))
    refused = post(six)
    assert refused.status_code == 400 and b"at most 5 addresses" in refused.body and b"t5@example.org" in refused.body
    bad = post("sam@example.org\nnot an address")
    assert bad.status_code == 400 and b"is not an email address" in bad.body
    assert outbox.messages() == []
    sent = post("sam@example.org, kim@example.org\nSAM@example.org")
    assert sent.status_code == 303 and sent.headers["Location"].endswith("?test=2")
    copies = outbox.messages()
    assert sorted(str(m["To"]) for m in copies) == ["kim@example.org", "sam@example.org"]
    assert all(m["Subject"] == "[Test] #PeerTalk: Winter issue" for m in copies)
    assert send_run.progress(issue_id)["sent"] == 0 and issues.get(issue_id)["status"] == "draft"
    page = client.http.get(sent.headers["Location"], headers=coordinator["headers"])
    assert b"A test copy is on its way to 2 addresses." in page.body
    one = post("kim@example.org")  # someone else's address alone is not "you"
    assert one.headers["Location"].endswith("?test=1")
    assert b"A test copy is on its way to 1 address." in client.http.get(one.headers["Location"],
                                                                         headers=coordinator["headers"]).body
    own = post("")  # blank: the coordinator's own address
    assert own.headers["Location"].endswith("?test=you")
    assert b"A test copy is on its way to you." in client.http.get(own.headers["Location"],
                                                                   headers=coordinator["headers"]).body


def test_a_sent_issue_has_a_readable_address_link_previews_and_an_atom_feed(client, outbox):
    import feedparser

    from chalicelib import issues, send_run

    first = new_issue(title="Spotlight on parents!", date="2026-12-01",
                      sections=[{"kind": "image", "heading": "Our walk", "image_url": "https://example.org/walk.jpg",
                                 "image_alt": "Six people walking by a canal", "body": "October's walk."}])
    second = new_issue(title="Spotlight on parents", date="2026-12-15")
    for issue_id in (first, second):
        assert send_run.start(issue_id, by="zoe@peerpost.test")
    assert issues.get(first)["slug"] == "2026-12-spotlight-on-parents"
    assert issues.get(second)["slug"] == "2026-12-spotlight-on-parents-2"  # never someone else's address
    page = client.http.get("/archive/2026-12-spotlight-on-parents")
    assert page.status_code == 200 and b"Six people walking by a canal" in page.body
    body = page.body.decode()
    assert '<meta property="og:title" content="Spotlight on parents!">' in body
    assert '<meta property="og:image" content="https://example.org/walk.jpg">' in body
    assert '<meta name="twitter:card" content="summary_large_image">' in body
    assert '<meta property="og:description" content="Hello from the network.">' in body
    assert '<link rel="canonical" href="https://peerpost.test/archive/2026-12-spotlight-on-parents">' in body
    old = client.http.get(f"/archive/{first}")
    assert old.status_code == 301 and old.headers["Location"] == "/archive/2026-12-spotlight-on-parents"
    assert client.http.get("/archive/2026-12-nothing-here").status_code == 404
    assert b'href="/archive/2026-12-spotlight-on-parents-2"' in client.http.get("/archive").body

    feed = client.http.get("/archive.atom")
    assert feed.status_code == 200 and feed.headers["Content-Type"].startswith("application/atom+xml")
    parsed = feedparser.parse(feed.body)
    assert not parsed.bozo and parsed.version == "atom10"
    assert [e.title for e in parsed.entries] == ["Spotlight on parents", "Spotlight on parents!"]
    assert parsed.entries[1].link == "https://peerpost.test/archive/2026-12-spotlight-on-parents"
    assert parsed.entries[1].summary == "Hello from the network."
    assert parsed.feed.title.startswith("#PeerTalk")


def test_the_same_new_issue_or_copy_form_sent_twice_makes_one_issue(client, coordinator):
    from chalicelib import issues

    page = client.http.get("/coordinator/issues/new", headers=coordinator["headers"]).body.decode()
    submission = page.split('name="submission_id" value="')[1].split('"')[0]
    locations = {client.http.post("/coordinator/issues", headers=coordinator["form_headers"],
                                  body=issue_form(coordinator, submission_id=submission)).headers["Location"]
                 for _ in range(2)}
    assert len(locations) == 1 and len(issues.list_issues()) == 1
    source = locations.pop().split("/")[3]
    shown = client.http.get(f"/coordinator/issues/{source}", headers=coordinator["headers"]).body.decode()
    copy_id = shown.split('name="submission_id" value="')[1].split('"')[0]
    for _ in range(2):
        client.http.post(f"/coordinator/issues/{source}/copy", headers=coordinator["form_headers"],
                         body=form({"csrf_token": coordinator["csrf"], "submission_id": copy_id}))
    assert len(issues.list_issues()) == 2
