"""Moderation that closes the loop with contributors, through the routes and the emails they send."""
from __future__ import annotations

import re

from tests.conftest import FORM, form, sign_in_http, text_of
from tests.functional.test_stories import STORY, contributor_path, coord_post, only_story_id, submit

PASSWORD = "a walk by the river at dawn"


def moderator(client, email="mo@peerpost.test", granted=("moderator",), secret=""):
    from chalicelib import auth

    auth.create_coordinator(email, PASSWORD, name=email.split("@")[0].title(), granted=granted, totp_secret=secret)
    return sign_in_http(client, email, PASSWORD, totp_secret=secret)


def audit_actions() -> list[str]:
    from chalicelib import aws

    return [i["action"] for i in aws.table().scan()["Items"] if i["PK"].startswith("AUDIT#")]


def test_declining_needs_a_reason_and_tells_the_contributor_kindly_in_adjustable_words(client, outbox):
    mo = moderator(client)
    submit(client)
    story_id = only_story_id()
    page = client.http.get(f"/coordinator/stories/{story_id}", headers=mo["headers"]).body.decode()
    assert "Decline this story" in page and "This is not a judgement of you" in page  # the suggested wording
    outbox.clear()
    missing = coord_post(client, mo, f"/coordinator/stories/{story_id}/status",
                         {"status": "rejected", "reason": "", "decline_message": "My own words"})
    assert missing.status_code == 400 and b"Say why the story is declined" in missing.body
    assert b"My own words" in missing.body and outbox.messages() == []
    done = coord_post(client, mo, f"/coordinator/stories/{story_id}/status", {
        "status": "rejected", "reason": "It names another member of the group.",
        "decline_message": "Dear Robin, thank you.\n\n{reason}\n\nWith warm wishes."})
    assert done.status_code == 303
    (told,) = outbox.to("robin@example.org")
    assert "It names another member of the group." in text_of(told) and "{reason}" not in text_of(told)
    page = client.http.get(f"/coordinator/stories/{story_id}", headers=mo["headers"]).body.decode()
    assert "Declined" in page and "It names another member of the group." in page


def test_writing_to_the_contributor_goes_from_the_organisation_and_never_shows_the_address(client, outbox):
    from chalicelib import settings

    mo = moderator(client)
    submit(client)
    story_id = only_story_id()
    page = client.http.get(f"/coordinator/stories/{story_id}", headers=mo["headers"]).body.decode()
    assert "robin@example.org" not in page and "Write to the contributor" in page
    outbox.clear()
    empty = coord_post(client, mo, f"/coordinator/stories/{story_id}/message", {"subject": "Hello", "message": ""})
    assert empty.status_code == 400 and b"Write your message" in empty.body and b'value="Hello"' in empty.body
    sent = coord_post(client, mo, f"/coordinator/stories/{story_id}/message",
                      {"subject": "About your story", "message": "Could we use your first name only?"})
    assert sent.status_code == 303
    (message,) = outbox.to("robin@example.org")
    s = settings.get_settings()
    assert s.transactional_from.split("<")[-1].rstrip(">") in str(message["From"])
    assert s.reply_to in str(message["Reply-To"]) and message["Subject"] == "About your story"
    assert "Could we use your first name only?" in text_of(message) and "/stories/mine/" in text_of(message)
    page = client.http.get(f"/coordinator/stories/{story_id}", headers=mo["headers"]).body.decode()
    assert "“About your story”" in page and "robin@example.org" not in page
    assert "story_message" in audit_actions()


def test_only_a_safeguarding_lead_sees_contact_details_and_every_view_is_recorded(client, outbox):
    mo = moderator(client)
    lead = moderator(client, "lee@peerpost.test", ("safeguarding",), secret="JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
    submit(client)
    story_id = only_story_id()
    assert client.http.get(f"/coordinator/stories/{story_id}/contact", headers=mo["headers"]).status_code == 403
    shown = client.http.get(f"/coordinator/stories/{story_id}/contact", headers=lead["headers"])
    assert shown.status_code == 200 and b"robin@example.org" in shown.body
    from chalicelib import aws

    views = sorted((i["who_id"], i["outcome"]) for i in aws.table().scan()["Items"]
                   if i["PK"].startswith("AUDIT#") and i["action"] == "story_contact")
    assert views == sorted([(lead["id"], "done"), (mo["id"], "refused")])
    story_page = client.http.get(f"/coordinator/stories/{story_id}", headers=lead["headers"])
    # A lead reads the story and its flag; the moderators' forms are not offered to her.
    assert story_page.status_code == 200 and b"Save as a new version" not in story_page.body
    assert b"Write to the contributor" not in story_page.body and b"Move to review" not in story_page.body


def test_notes_and_an_assignee_are_for_coordinators_and_go_with_a_withdrawal(client, outbox):
    from chalicelib import stories

    mo = moderator(client)
    submit(client)
    story_id = only_story_id()
    assert coord_post(client, mo, f"/coordinator/stories/{story_id}/notes", {"note": "Check with Sam first."}).status_code == 303
    assert coord_post(client, mo, f"/coordinator/stories/{story_id}/assignee", {"assignee": mo["id"]}).status_code == 303
    bad = coord_post(client, mo, f"/coordinator/stories/{story_id}/assignee", {"assignee": "someone-else"})
    assert bad.status_code == 400
    page = client.http.get(f"/coordinator/stories/{story_id}", headers=mo["headers"]).body.decode()
    assert "Check with Sam first." in page and re.search(rf'<option value="{mo["id"]}" selected>', page)
    assert "Check with Sam first." not in client.http.get(contributor_path(outbox)).body.decode()
    stories.withdraw(story_id)
    assert "notes" not in stories.get(story_id) and "assignee" not in stories.get(story_id)


def test_the_difference_is_shown_and_the_assigned_moderator_is_told_of_the_answer(client, outbox):
    mo = moderator(client)
    other = moderator(client, "ola@peerpost.test")
    submit(client)
    story_id = only_story_id()
    coord_post(client, mo, f"/coordinator/stories/{story_id}/status", {"status": "in_review"})
    edited = {"title": STORY["title"], "text": "I went to my first peer support group.\n\nIt helped.",
              "content_notes": "bereavement"}
    assert coord_post(client, mo, f"/coordinator/stories/{story_id}/versions", edited).status_code == 303
    page = client.http.get(f"/coordinator/stories/{story_id}", headers=mo["headers"]).body.decode()
    assert "<del>" in page and "<ins>" in page and "What changed from version 1" in page
    path = contributor_path(outbox)
    mine = client.http.get(path).body.decode()
    assert "What changed from the words you approved" in mine and "<del>" in mine and "<ins>" in mine

    coord_post(client, mo, f"/coordinator/stories/{story_id}/assignee", {"assignee": mo["id"]})
    outbox.clear()
    assert client.http.post(path + "/approve", headers=FORM, body=form({"version": "2"})).status_code == 303
    (told,) = outbox.to("mo@peerpost.test")
    assert told["Subject"] == "A contributor has approved the edited version"
    assert f"/coordinator/stories/{story_id}" in text_of(told) and "Robin" not in text_of(told)
    assert outbox.to("ola@peerpost.test") == []
    # Nobody assigned: every moderator hears of a withdrawal.
    coord_post(client, mo, f"/coordinator/stories/{story_id}/assignee", {"assignee": ""})
    outbox.clear()
    client.http.post(path + "/withdraw", headers=FORM, body=form({"confirm": "yes"}))
    assert {str(m["To"]) for m in outbox.messages()} >= {"mo@peerpost.test", "ola@peerpost.test"}


def test_a_safeguarding_flag_is_handled_by_a_named_lead_or_alerts_every_lead_after_a_day(client, outbox):
    from chalicelib import clock, moderation, stories

    lead = moderator(client, "lee@peerpost.test", ("safeguarding",), secret="JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
    moderator(client, "lou@peerpost.test", ("safeguarding", "moderator"), secret="JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
    submit(client, title="A hard night", text="That night I wanted to end my life.")
    submit(client, title="Another hard night", text="I felt suicidal last winter.", email="")
    first, second = sorted((r for s in stories.STATUSES for r in stories.iter_by_status(s)), key=lambda r: r["title"])
    empty = coord_post(client, lead, f"/coordinator/stories/{second['story_id']}/safeguarding", {"handled_note": ""})
    assert empty.status_code == 400 and b"Say what was done" in empty.body
    assert coord_post(client, lead, f"/coordinator/stories/{second['story_id']}/safeguarding",
                      {"handled_note": "Signposted to the crisis line."}).status_code == 303
    page = client.http.get(f"/coordinator/stories/{second['story_id']}", headers=lead["headers"]).body.decode()
    assert "handled by Lee" in page and "Signposted to the crisis line." in page
    assert "story_safeguarding_handled" in audit_actions()

    outbox.clear()
    assert moderation.second_alerts() == 0  # not a day yet
    clock.advance(25 * 3600)
    assert moderation.second_alerts() == 1 and moderation.second_alerts() == 0  # once only
    alerts = outbox.messages()
    assert {str(m["To"]) for m in alerts} == {"lee@peerpost.test", "lou@peerpost.test"}
    assert all(m["Subject"] == "Safeguarding: a flag is still not handled" for m in alerts)
    assert all(first["story_id"] in text_of(m) and "end my life" not in text_of(m) for m in alerts)
