"""Stories through the HTTP routes and the service, against moto: submission, the contributor's link,
moderation with versions, the consent ledger, withdrawal, safeguarding, exports and retention."""
from __future__ import annotations

import csv
import io
import json
import re

import pytest

from tests.conftest import COORDINATOR, FORM, JSON, as_json, form, html_of, text_of, COORDINATOR_TOTP, sign_in_http

STORY = {
    "title": "Finding my people",
    "text": "I went to my first peer support group in March.\n\nIt helped more than I can say.",
    "name": "Robin Ashdown",
    "email": "robin@example.org",
    "content_notes": "bereavement, hospital",
    "level": "first_name",
    "channels": ["newsletter", "archive"],
    "consent": "yes",
}


def submit(client, data=None, **changes):
    return client.http.post("/stories/new", headers=FORM, body=form({**(data or STORY), **changes}))


def only_story_id() -> str:
    from chalicelib import stories

    [row] = [r for s in stories.STATUSES for r in stories.iter_by_status(s)]
    return row["story_id"]


def contributor_path(outbox, address="robin@example.org") -> str:
    message = outbox.to(address)[-1]
    found = re.search(r"https://peerpost\.test(/stories/mine/[A-Za-z0-9_.\-]+)", text_of(message))
    assert found, "no contributor link in the message"
    return found.group(1)


def coord_post(client, coordinator, path, data=None):
    return client.http.post(path, headers=coordinator["form_headers"],
                            body=form({"csrf_token": coordinator["csrf"], **(data or {})}))


def followed(client, response, headers=None):
    """A form's answer is a 303 to a page (POST/redirect/GET): the page it leads to."""
    assert response.status_code == 303, (response.status_code, response.body[:300])
    page = client.http.get(response.headers["Location"], headers=headers or {})
    assert page.status_code == 200, page.status_code
    return page


def published(client, coordinator) -> str:
    assert submit(client).status_code == 303
    story_id = only_story_id()
    for status in ("in_review", "approved", "published"):
        response = coord_post(client, coordinator, f"/coordinator/stories/{story_id}/status", {"status": status})
        assert response.status_code == 303, response.body
    return story_id


# ---------------------------------------------------------------- the form

def test_home_links_to_the_form_which_labels_every_field(client):
    assert b'href="/stories/new"' in client.http.get("/").body
    page = client.http.get("/stories/new").body.decode()
    for name in ("title", "text", "name", "email", "content_notes", "consent"):
        assert f'<label for="{name}">' in page
    for level in ("private", "anonymous", "first_name", "full_name"):
        assert f'id="level-{level}"' in page
    for channel in ("newsletter", "archive", "social", "reports"):
        tag = re.search(rf'<input type="checkbox" id="channel-{channel}"[^>]*>', page).group(0)
        assert "checked" not in tag
    assert "withdraw" in page and 'name="consent_version" value="story-consent-2026-11"' in page


def test_submission_stores_version_consent_and_ledger_and_sends_receipt(client, outbox):
    from chalicelib import stories

    response = submit(client)
    assert response.status_code == 303 and response.headers["Location"] == "/stories/thanks"
    assert b"Thank you for your story" in followed(client, response).body
    story = stories.get(only_story_id())
    assert story["status"] == "new"
    assert [v["text"] for v in story["versions"]] == [STORY["text"]]
    assert story["consent"]["level"] == "first_name"
    assert story["consent"]["channels"] == ["newsletter", "archive"]
    assert story["consent"]["wording_version"] == "story-consent-2026-11"
    [entry] = story["consent_history"]
    assert (entry["event"], entry["method"], entry["version"]) == ("given", "form", 1)
    [receipt] = outbox.to("robin@example.org")
    assert "/stories/mine/" in text_of(receipt) and "/stories/mine/" in html_of(receipt)
    assert STORY["text"] not in text_of(receipt)


@pytest.mark.parametrize("changes, field, message", [
    ({"title": ""}, "title", "Give your story a title"),
    ({"text": "   "}, "text", "Write your story"),
    ({"email": "not-an-address"}, "email", "Enter a valid email address"),
    ({"level": ""}, "level", "Choose how much"),
    ({"consent": ""}, "consent", "Tick the box"),
    ({"level": "private"}, "channels", "You chose to keep your story private"),
    ({"name": "", "level": "full_name"}, "name", "Add your name"),
    ({"channels": ["newsletter", "billboards"]}, "channels", "Choose from the places listed"),
])
def test_bad_input_reshows_form_with_everything_typed(client, outbox, changes, field, message):
    data = {**STORY, "text": STORY["text"] + " <script>alert(1)</script>", **changes}
    response = submit(client, data)
    assert response.status_code == 400
    page = response.body.decode()
    assert message in page
    assert f'id="{field}-error"' in page or f'id="{field}"' in page
    if data["text"].strip():
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert" not in page
    assert f'value="{data["title"]}"' in page
    assert outbox.messages() == []


def test_oversized_story_is_refused_but_kept(client, outbox):
    from chalicelib import settings

    long_text = "word " * 5000
    response = submit(client, text=long_text)
    assert response.status_code == 400
    assert f"the limit is {settings.get_settings().max_story_chars:,}" in response.body.decode()
    assert long_text.strip() in response.body.decode()


def test_a_story_larger_than_any_form_is_still_shown_back(client, outbox):
    huge = "All of it. " * 30000  # ~330 kB, past the shared 256 kB body limit
    response = submit(client, text=huge)
    assert response.status_code == 400
    assert "Please shorten it" in response.body.decode() and huge.strip() in response.body.decode()


def test_html_is_kept_as_text_and_escaped_everywhere(client, coordinator, outbox):
    from chalicelib import stories

    script = '<img src=x onerror="alert(1)">'
    submit(client, title=f"Title {script}", text=f"Story {script}", name=f"Robin {script}")
    story_id = only_story_id()
    assert stories.current(stories.get(story_id))["text"] == f"Story {script}"
    pages = [client.http.get("/coordinator/stories", headers=coordinator["headers"]).body.decode(),
             client.http.get(f"/coordinator/stories/{story_id}", headers=coordinator["headers"]).body.decode(),
             client.http.get(contributor_path(outbox)).body.decode()]
    for page in pages:
        assert "<img src=x" not in page
        assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in page


def test_honeypot_answers_as_usual_and_keeps_nothing(client, outbox):
    from chalicelib import stories

    response = submit(client, website="http://spam.example")
    assert b"Thank you for your story" in followed(client, response).body
    assert sum(stories.counts_by_status().values()) == 0
    assert outbox.messages() == []


def test_rate_limit_keeps_the_story_in_the_form(client, outbox, monkeypatch):
    from chalicelib import settings

    monkeypatch.setenv("PEERPOST_STORY_RATE_LIMIT_PER_CLIENT", "2")
    settings.reset()
    assert submit(client).status_code == 303
    assert submit(client).status_code == 303
    response = submit(client)
    assert response.status_code == 429
    assert "has not been sent yet" in response.body.decode()
    assert "It helped more than I can say." in response.body.decode()


def test_json_api_accepts_a_story(client, outbox):
    from chalicelib import stories

    response = client.http.post("/api/stories", headers=JSON, body=as_json({**STORY, "consent": True}))
    assert response.status_code == 202
    assert stories.counts_by_status()["new"] == 1
    bad = client.http.post("/api/stories", headers=JSON, body=as_json({**STORY, "consent": True, "title": ""}))
    assert bad.status_code == 400 and "title" in json.loads(bad.body)["fields"]


# ---------------------------------------------------------------- the contributor's link

def test_contributor_page_shows_story_and_consent(client, outbox):
    submit(client)
    page = client.http.get(contributor_path(outbox)).body.decode()
    assert "Finding my people" in page and "It helped more than I can say." in page
    assert re.search(r'id="level-first_name"[^>]*checked', page)
    assert re.search(r'id="channel-newsletter"[^>]*checked', page)
    assert not re.search(r'id="channel-social"[^>]*checked', page)


def test_forged_contributor_link_is_refused(client, outbox):
    submit(client)
    path = contributor_path(outbox)
    assert client.http.get(path[:-3] + "abc").status_code == 400
    from chalicelib import tokens

    other = tokens.sign("preferences", only_story_id())  # right id, wrong purpose
    assert client.http.get(f"/stories/mine/{other}").status_code == 400


def test_narrowing_takes_effect_at_once_and_is_in_the_ledger(client, coordinator, outbox):
    from chalicelib import stories

    story_id = published(client, coordinator)
    assert stories.shareable(story_id, "archive").attribution == "Robin"
    response = client.http.post(contributor_path(outbox) + "/consent", headers=FORM,
                                body=form({"level": "anonymous", "channels": ["newsletter"]}))
    assert b"Your choices are saved" in followed(client, response).body
    assert stories.shareable(story_id, "archive") is None
    assert stories.shareable(story_id, "newsletter").attribution == "Anonymous"
    events = [e["event"] for e in stories.get(story_id)["consent_history"]]
    assert events == ["given", "narrowed"]


def test_widening_to_a_name_needs_a_name(client, outbox):
    from chalicelib import stories

    submit(client, name="", level="anonymous")
    response = client.http.post(contributor_path(outbox) + "/consent", headers=FORM,
                                body=form({"level": "full_name", "channels": ["social"]}))
    assert response.status_code == 400 and b"Add your name" in response.body
    assert stories.get(only_story_id())["consent"]["level"] == "anonymous"


def test_withdrawal_via_link_erases_and_leaves_a_minimal_ledger(client, coordinator, outbox):
    from chalicelib import stories

    story_id = published(client, coordinator)
    path = contributor_path(outbox)
    refused = client.http.post(path + "/withdraw", headers=FORM, body=form({}))
    assert refused.status_code == 400 and stories.get(story_id)["status"] == "published"
    response = client.http.post(path + "/withdraw", headers=FORM, body=form({"confirm": "yes"}))
    assert b"Your story is withdrawn" in followed(client, response).body
    for channel in ("newsletter", "archive", "social", "reports"):
        assert stories.shareable(story_id, channel) is None
    assert stories.shareable_for("archive") == []
    story = stories.get(story_id)
    assert story["status"] == "withdrawn" and story["versions"] == []
    assert not {"title", "name", "email"} & set(story)
    raw = json.dumps(story, default=str)
    assert "Robin" not in raw and "robin@example.org" not in raw and "peer support group" not in raw
    assert [e["event"] for e in story["consent_history"]][-1] == "withdrawn"
    assert outbox.to("robin@example.org")[-1]["Subject"] == "Your story has been withdrawn"
    again = client.http.get(path)
    assert b"This story has been withdrawn" in again.body


# ---------------------------------------------------------------- moderation and versions

def test_statuses_move_only_along_allowed_transitions(client, coordinator, outbox):
    submit(client)
    story_id = only_story_id()
    response = coord_post(client, coordinator, f"/coordinator/stories/{story_id}/status", {"status": "published"})
    assert response.status_code == 409
    for status in ("in_review", "rejected", "in_review", "approved", "published", "in_review"):
        assert coord_post(client, coordinator, f"/coordinator/stories/{story_id}/status",
                          {"status": status, "reason": "Too close to another story.",
                           "decline_message": "Thank you."}).status_code == 303


def test_an_edit_is_a_new_version_that_needs_the_contributors_approval(client, coordinator, outbox):
    from chalicelib import stories

    story_id = published(client, coordinator)
    edited = {"title": "Finding my people", "text": "I went to my first group.\n\nIt helped.",
              "content_notes": "bereavement"}
    response = coord_post(client, coordinator, f"/coordinator/stories/{story_id}/versions", edited)
    page = followed(client, response, coordinator["headers"])
    assert b"cannot be published until the contributor approves" in page.body
    story = stories.get(story_id)
    assert story["status"] == "awaiting_approval"
    assert [v["text"] for v in story["versions"]] == [STORY["text"], edited["text"]]
    assert stories.shareable(story_id, "newsletter") is None  # taken down until approved
    for status in ("approved", "published"):
        assert coord_post(client, coordinator, f"/coordinator/stories/{story_id}/status",
                          {"status": status}).status_code == 409
    assert outbox.to("robin@example.org")[-1]["Subject"] == "Please check the edited version of your story"

    path = contributor_path(outbox)
    page = client.http.get(path).body.decode()
    assert "I approve this edited version" in page and "It helped." in page
    stale = client.http.post(path + "/approve", headers=FORM, body=form({"version": "1"}))
    assert stale.status_code == 409
    assert client.http.post(path + "/approve", headers=FORM, body=form({"version": "2"})).status_code == 303
    assert stories.get(story_id)["status"] == "in_review"
    for status in ("approved", "published"):
        assert coord_post(client, coordinator, f"/coordinator/stories/{story_id}/status",
                          {"status": status}).status_code == 303
    shared = stories.shareable(story_id, "newsletter")
    assert (shared.version, shared.text, shared.content_notes) == (2, edited["text"], ("bereavement",))
    events = [(e["event"], e["version"]) for e in stories.get(story_id)["consent_history"]]
    assert events == [("given", 1), ("version-approved", 2)]


def test_contributor_can_decline_an_edit_and_keep_their_words(client, coordinator, outbox):
    from chalicelib import stories

    story_id = published(client, coordinator)
    coord_post(client, coordinator, f"/coordinator/stories/{story_id}/versions",
               {"title": "Finding my people", "text": "A shorter version."})
    path = contributor_path(outbox)
    assert b"No thanks, keep my version" in client.http.get(path).body
    assert client.http.post(path + "/keep-mine", headers=FORM, body=form({"version": "1"})).status_code == 409
    assert client.http.post(path + "/keep-mine", headers=FORM, body=form({"version": "2"})).status_code == 303
    story = stories.get(story_id)
    assert [(int(v["number"]), v["text"], bool(v["approved_at"])) for v in story["versions"]] == [
        (1, STORY["text"], True), (2, "A shorter version.", False), (3, STORY["text"], True)]
    assert story["status"] == "in_review" and story["consent_history"][-1]["event"] == "edit-declined"
    for status in ("approved", "published"):
        assert coord_post(client, coordinator, f"/coordinator/stories/{story_id}/status",
                          {"status": status}).status_code == 303
    assert stories.shareable(story_id, "newsletter").text == STORY["text"]


def test_edit_with_errors_reshows_what_the_coordinator_typed(client, coordinator, outbox):
    submit(client)
    story_id = only_story_id()
    response = coord_post(client, coordinator, f"/coordinator/stories/{story_id}/versions",
                          {"title": "", "text": "A careful rewrite"})
    assert response.status_code == 400
    assert "Give the story a title" in response.body.decode() and "A careful rewrite" in response.body.decode()


def test_coordinator_pages_need_a_signed_in_coordinator_and_csrf(client, coordinator, outbox):
    submit(client)
    story_id = only_story_id()
    assert client.http.get("/coordinator/stories").status_code == 303
    assert client.http.get("/coordinator/story-exports/records.json").status_code == 303
    no_csrf = client.http.post(f"/coordinator/stories/{story_id}/status", headers=coordinator["form_headers"],
                               body=form({"status": "in_review"}))
    assert no_csrf.status_code == 403
    queue = client.http.get("/coordinator/stories", headers=coordinator["headers"]).body.decode()
    assert "Finding my people" in queue and f"/coordinator/stories/{story_id}" in queue


# ---------------------------------------------------------------- safeguarding

def test_safeguarding_flags_and_emails_without_the_story(client, coordinator, outbox):
    from chalicelib import stories

    text = "Last winter I wanted to END MY   life. My neighbour Jess sat with me."
    submit(client, text=text)
    story_id = only_story_id()
    assert stories.get(story_id)["safeguarding"] is True
    [alert] = outbox.to("safeguarding@peerpost.example.org")
    body = text_of(alert) + html_of(alert)
    assert story_id in body and f"/coordinator/stories/{story_id}" in body
    for secret in ("Jess", "winter", "Finding my people", "Robin", "robin@example.org"):
        assert secret not in body
    page = client.http.get(f"/coordinator/stories/{story_id}", headers=coordinator["headers"]).body.decode()
    assert "Safeguarding:" in page


def test_safeguarding_phrases_are_configurable(client, outbox, monkeypatch):
    from chalicelib import settings, stories

    monkeypatch.setenv("PEERPOST_SAFEGUARDING_PHRASES", "on the bridge|no way out")
    settings.reset()
    submit(client, text="I felt there was no way out.")
    submit(client, text="I wanted to die.", email="")
    flagged = [r["safeguarding"] for s in stories.STATUSES for r in stories.iter_by_status(s)]
    assert sorted(flagged) == [False, True]
    assert len(outbox.to("safeguarding@peerpost.example.org")) == 1


# ---------------------------------------------------------------- records, exports, retention

def test_consent_history_and_exports(client, coordinator, outbox):
    story_id = published(client, coordinator)
    client.http.post(contributor_path(outbox) + "/consent", headers=FORM,
                     body=form({"level": "full_name", "channels": ["newsletter", "archive", "social"]}))
    page = client.http.get(f"/coordinator/stories/{story_id}", headers=coordinator["headers"]).body.decode()
    assert "Consent history" in page and "widened" in page

    records = json.loads(client.http.get("/coordinator/story-exports/records.json", headers=coordinator["headers"]).body)
    [record] = records["stories"]
    assert record["story_id"] == story_id and record["consent"]["level"] == "full_name"
    assert [e["event"] for e in record["consent_history"]] == ["given", "widened"]
    assert "Robin" not in json.dumps(record) and "peer support group" not in json.dumps(record)

    rows = list(csv.DictReader(io.StringIO(client.http.get(
        "/coordinator/story-exports/records.csv", headers=coordinator["headers"]).body.decode())))
    assert [(r["event"], r["channels"]) for r in rows] == [
        ("given", "newsletter archive"), ("widened", "newsletter archive social")]

    social = list(csv.DictReader(io.StringIO(client.http.get(
        "/coordinator/story-exports/channel/social", headers=coordinator["headers"]).body.decode())))
    assert [(r["story_id"], r["attribution"], r["text"]) for r in social] == [(story_id, "Robin Ashdown", STORY["text"])]
    reports = client.http.get("/coordinator/story-exports/channel/reports", headers=coordinator["headers"]).body.decode()
    assert story_id not in reports


def test_coordinator_can_withdraw_on_request(client, coordinator, outbox):
    from chalicelib import stories

    story_id = published(client, coordinator)
    response = coord_post(client, coordinator, f"/coordinator/stories/{story_id}/withdraw", {"confirm": "yes"})
    assert b"Withdrawn: the story" in followed(client, response, coordinator["headers"]).body
    story = stories.get(story_id)
    assert story["status"] == "withdrawn" and story["consent_history"][-1]["method"] == "on-request"
    assert stories.shareable_for("newsletter") == []
    assert outbox.to("robin@example.org")[-1]["Subject"] == "Your story has been withdrawn"


def test_retention_flags_then_erases_unless_kept(client, coordinator, outbox):
    from chalicelib import clock, settings, stories

    day = 86400
    submit(client)
    submit(client, title="Kept story", email="")
    ids = {r["title"]: r["story_id"] for s in stories.STATUSES for r in stories.iter_by_status(s)}
    stories.set_keep(ids["Kept story"], True)
    s = settings.get_settings()
    clock.advance((s.story_retention_flag_days - 1) * day)
    assert stories.apply_retention() == {"flagged": 0, "erased": 0}
    clock.advance(2 * day)
    assert stories.apply_retention() == {"flagged": 1, "erased": 0}
    assert client.http.get("/coordinator/stories", headers=coordinator["headers"]).status_code == 303  # expired
    again = sign_in_http(client, *COORDINATOR, totp_secret=COORDINATOR_TOTP)
    assert "Due for erasure" in client.http.get("/coordinator/stories", headers=again["headers"]).body.decode()
    clock.advance((s.story_retention_erase_days + 1) * day)
    assert stories.apply_retention() == {"flagged": 0, "erased": 1}
    erased = stories.get(ids["Finding my people"])
    assert erased["status"] == "withdrawn" and erased["versions"] == [] and "name" not in erased
    assert erased["consent_history"][-1]["event"] == "erased-retention"
    assert stories.get(ids["Kept story"])["status"] == "new"


def test_published_stories_are_not_touched_by_retention(client, coordinator, outbox):
    from chalicelib import clock, stories

    story_id = published(client, coordinator)
    clock.advance(400 * 86400)
    stories.apply_retention()
    clock.advance(400 * 86400)
    assert stories.apply_retention() == {"flagged": 0, "erased": 0}
    assert stories.get(story_id)["status"] == "published"


def test_scheduled_handler_runs_retention(client, outbox):
    from chalicelib import clock, stories

    from app import story_retention
    from localdev import runner

    submit(client)
    clock.advance(10_000 * 86400)
    story_retention(runner.scheduled_event("story_retention"), runner.LambdaContext("story_retention"))
    assert stories.get(only_story_id()).get("retention_flagged_at")


def test_a_stale_change_is_refused_not_interleaved(client, outbox):
    from chalicelib import stories
    from chalicelib.errors import Conflict

    submit(client)
    story_id = only_story_id()
    stale = stories.get(story_id)
    stories.change_consent(story_id, {"level": "anonymous", "channels": ["newsletter"]})
    with pytest.raises(Conflict):
        stories._commit(stale, story_id, {"status": "in_review"}, ledger={"event": "changed"})
    assert [e["event"] for e in stories.get(story_id)["consent_history"]] == ["given", "narrowed"]


def test_demo_stories_cover_the_states_a_coordinator_meets(client, outbox):
    from chalicelib import stories
    from localdev import demo_stories

    demo_stories.seed_stories()
    counts = stories.counts_by_status()
    assert (counts["published"], counts["awaiting_approval"], counts["new"]) == (2, 1, 1)
    assert [s.attribution for s in stories.shareable_for("newsletter")] in (["Amira", "Anonymous"], ["Anonymous", "Amira"])
    assert [s.attribution for s in stories.shareable_for("social")] == ["Anonymous"]
    assert stories.shareable_for("reports") == []  # Daniel's edited version awaits his approval
    assert len(outbox.to("safeguarding@peerpost.example.org")) == 1


def test_a_coordinator_can_narrow_consent_but_never_widen_it(client, coordinator, outbox):
    from chalicelib import stories

    submit(client, level="anonymous", channels=["newsletter"])
    story_id = only_story_id()
    wider = client.http.post(f"/coordinator/stories/{story_id}/consent", headers=coordinator["form_headers"],
                             body=form({"csrf_token": coordinator["csrf"], "level": "full_name",
                                        "channels": ["newsletter", "social"]}))
    assert wider.status_code == 400 and b"Only the contributor can widen" in wider.body
    assert stories.get(story_id)["consent"]["level"] == "anonymous"
    narrower = client.http.post(f"/coordinator/stories/{story_id}/consent", headers=coordinator["form_headers"],
                                body=form({"csrf_token": coordinator["csrf"], "level": "private", "channels": []}))
    assert narrower.status_code == 303
    assert stories.get(story_id)["consent"]["level"] == "private"


# ---------------------------------------------------------------- reload, Back and double clicks repeat nothing

def test_reloading_the_thank_you_page_sends_nothing_again(client, outbox):
    from chalicelib import stories

    form_page = client.http.get("/stories/new").body.decode()
    submission_id = re.search(r'name="submission_id" value="([^"]+)"', form_page).group(1)
    response = submit(client, submission_id=submission_id)
    for _ in range(3):  # reloading is a GET of the thank-you page
        assert b"Thank you for your story" in followed(client, response).body
    assert sum(stories.counts_by_status().values()) == 1 and len(outbox.to("robin@example.org")) == 1


def test_the_same_form_sent_twice_is_one_story_with_one_receipt_and_one_alert(client, outbox):
    from chalicelib import stories

    text = "I wanted to end my life that winter."
    first = submit(client, submission_id="form-1", text=text)
    second = submit(client, submission_id="form-1", text=text)  # a double click
    assert first.status_code == second.status_code == 303
    assert sum(stories.counts_by_status().values()) == 1
    assert len(outbox.to("robin@example.org")) == 1 and len(outbox.to("safeguarding@peerpost.example.org")) == 1
    submit(client, submission_id="form-2")  # another form is another story
    assert sum(stories.counts_by_status().values()) == 2


def test_a_corrected_form_keeps_its_submission_id(client, outbox):
    page = submit(client, title="", submission_id="form-9").body.decode()
    assert 'name="submission_id" value="form-9"' in page


def test_coordinator_and_contributor_actions_answer_with_a_redirect_to_a_get(client, coordinator, outbox):
    story_id = published(client, coordinator)
    path = contributor_path(outbox)
    answers = [
        coord_post(client, coordinator, f"/coordinator/stories/{story_id}/keep", {"keep": "yes"}),
        coord_post(client, coordinator, f"/coordinator/stories/{story_id}/consent",
                   {"level": "first_name", "channels": ["newsletter"]}),
        client.http.post(path + "/consent", headers=FORM, body=form({"level": "anonymous", "channels": []})),
    ]
    notices = [b"Kept on purpose", b"Consent changed as the contributor asked", b"Your choices are saved"]
    for response, notice in zip(answers, notices):
        assert response.status_code == 303
        assert notice in followed(client, response, coordinator["headers"]).body
    # The page a reload shows says nothing was done unless the redirect said so.
    assert b"Kept on purpose" not in client.http.get(f"/coordinator/stories/{story_id}", headers=coordinator["headers"]).body


def test_the_contributor_reads_their_own_status_in_their_own_words(client, coordinator, outbox):
    story_id = published(client, coordinator)
    coord_post(client, coordinator, f"/coordinator/stories/{story_id}/versions",
               {"title": "Finding my people", "text": "A shorter version."})
    mine = client.http.get(contributor_path(outbox)).body.decode()
    assert "Waiting for you to approve the edit" in mine and "Awaiting the contributor" not in mine
    theirs = client.http.get(f"/coordinator/stories/{story_id}", headers=coordinator["headers"]).body.decode()
    assert "Awaiting the contributor&#39;s approval" in theirs
