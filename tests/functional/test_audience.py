"""The coordinator's subscriber pages through the HTTP routes, against moto: a filtered page at a time,
finding one person, their record, and acting for them."""
from __future__ import annotations

import json
import re

from tests.conftest import form
from tests.functional.test_subscriptions import confirmed, link, subscribe


def person(n: int, topics=("newsletter",), name: str = "") -> dict:
    return {"email": f"person{n:03d}@example.org", "first_name": name or f"Reader{n:03d}",
            "topics": list(topics), "consent": "yes"}


def sid_of(email: str) -> str:
    from chalicelib import subscriptions

    return subscriptions.email_id(email)


def listed(body: str) -> list[str]:
    return re.findall(r'href="/coordinator/subscribers/([a-z0-9]+)"', body)


def post(client, coordinator, path: str, data: dict):
    return client.http.post(path, headers=coordinator["form_headers"],
                            body=form({"csrf_token": coordinator["csrf"], **data}))


def test_pages_through_a_status_with_a_topic_filter_and_counts_for_the_filter(client, outbox, coordinator, monkeypatch):
    from chalicelib import audience

    monkeypatch.setattr(audience, "PAGE_SIZE", 4)
    for n in range(7):
        confirmed(client, outbox, person(n, topics=("newsletter", "events") if n % 2 else ("newsletter",)))
    subscribe(client, person(50))  # pending: not on the confirmed pages

    seen, url = [], "/coordinator/subscribers?status=confirmed"
    while url:
        page = client.http.get(url, headers=coordinator["headers"])
        assert page.status_code == 200
        body = page.body.decode()
        assert "Confirmed: 7 people" in body
        assert len(listed(body)) <= 4
        seen += listed(body)
        found = re.search(r'href="(/coordinator/subscribers\?[^"]*after=[^"]+)"', body)
        url = found.group(1).replace("&amp;", "&") if found else ""
    assert sorted(seen) == sorted(sid_of(person(n)["email"]) for n in range(7))  # each once, none missed

    events = client.http.get("/coordinator/subscribers?status=confirmed&topic=events",
                             headers=coordinator["headers"]).body.decode()
    assert "Event and training announcements: 3 people" in events
    assert sorted(listed(events)) == sorted(sid_of(person(n)["email"]) for n in (1, 3, 5))
    pending = client.http.get("/coordinator/subscribers?status=pending", headers=coordinator["headers"]).body.decode()
    assert listed(pending) == [sid_of(person(50)["email"])]


def test_a_filter_matching_few_reads_a_bounded_number_of_query_pages(client, outbox, coordinator, monkeypatch):
    from chalicelib import audience

    monkeypatch.setattr(audience, "PAGE_SIZE", 2)
    monkeypatch.setattr(audience, "MAX_QUERIES_PER_PAGE", 3)
    for n in range(12):
        confirmed(client, outbox, person(n, topics=("events",) if n == 11 else ("newsletter",)))
    seen, url, pages = [], "/coordinator/subscribers?status=confirmed&topic=events", 0
    while url:
        pages += 1
        body = client.http.get(url, headers=coordinator["headers"]).body.decode()
        assert "Event and training announcements: 1 person" in body
        seen += listed(body)
        found = re.search(r'href="(/coordinator/subscribers\?[^"]*after=[^"]+)"', body)
        url = found.group(1).replace("&amp;", "&") if found else ""
    assert seen == [sid_of(person(11)["email"])] and pages > 1


def test_find_by_whole_address_or_start_of_name_never_by_part_of_an_address(client, outbox, coordinator):
    confirmed(client, outbox, person(1, name="Alex Morgan"))
    confirmed(client, outbox, person(2, name="alexandra"))
    confirmed(client, outbox, person(3, name="Sam"))
    subscribe(client, person(4, name="Alexis"))  # pending: a search looks at every status

    def find(text: str):
        return client.http.get("/coordinator/subscribers?" + form({"find": text}), headers=coordinator["headers"])

    assert sorted(listed(find("ALEX").body.decode())) == sorted(sid_of(person(n)["email"]) for n in (1, 2, 4))
    assert listed(find("Person003@Example.org").body.decode()) == [sid_of(person(3)["email"])]
    assert listed(find("nobody@example.org").body.decode()) == []
    for part in ("@example.org", "person003@", "@"):
        response = find(part)
        body = response.body.decode()
        assert response.status_code == 400 and listed(body) == []
        assert "Addresses cannot be searched by part" in body
        assert f'value="{part}"' in body  # re-shown as typed
    for wildcard in ("person%@example.org", "*@example.org", "person00*@example.org"):
        assert listed(find(wildcard).body.decode()) == []  # a valid address taken literally: nobody has it
    assert listed(find("example").body.decode()) == []  # no name starts so, and addresses are not names


def test_bad_filters_and_cursors_are_clear_4xx(client, coordinator):
    response = client.http.get("/coordinator/subscribers?status=everyone", headers=coordinator["headers"])
    assert response.status_code == 400 and "Choose a status from the list." in response.body.decode()
    response = client.http.get("/coordinator/subscribers?status=confirmed&after=forged", headers=coordinator["headers"])
    assert response.status_code == 400 and "out of date" in response.body.decode()
    assert client.http.get("/coordinator/subscribers").status_code == 303  # signed out: to the sign-in page
    response = client.http.get("/coordinator/subscribers/notapersonatall", headers=coordinator["headers"])
    assert response.status_code == 404


def test_a_persons_page_shows_status_topics_and_consent_history(client, outbox, coordinator):
    confirmed(client, outbox, person(1, topics=("newsletter", "events"), name="Robin"))
    page = client.http.get(f"/coordinator/subscribers/{sid_of(person(1)['email'])}", headers=coordinator["headers"])
    body = page.body.decode()
    assert page.status_code == 200
    assert "<h1>Robin</h1>" in body and "person001@example.org" in body and "Confirmed" in body
    assert "The monthly #PeerTalk newsletter; Event and training announcements" in body
    assert "Gave consent" in body and "Web form" in body and "Confirmed by email" in body
    assert "I agree to PeerPost emailing me" in body


def test_unsubscribe_on_their_behalf_needs_a_reason_and_records_it(client, outbox, coordinator):
    from chalicelib import subscriptions

    confirmed(client, outbox, person(1))
    sid = sid_of(person(1)["email"])
    path = f"/coordinator/subscribers/{sid}/unsubscribe"
    response = post(client, coordinator, path, {"reason": "   "})
    assert response.status_code == 400 and "Write why" in response.body.decode()
    assert subscriptions.load(sid)["status"] == "confirmed"
    response = post(client, coordinator, path, {"reason": "x" * 501})
    assert response.status_code == 400 and 'value="' + "x" * 501 + '"' in response.body.decode()

    response = post(client, coordinator, path, {"reason": "Asked by phone on 3 March"})
    assert response.status_code == 303
    assert response.headers["Location"] == f"/coordinator/subscribers/{sid}?done=unsubscribed"
    item = subscriptions.load(sid)
    assert item["status"] == "unsubscribed"
    assert item["consent_history"][-1] | {"at": ""} == {
        "event": "withdrawn", "at": "", "method": "coordinator", "reason": "Asked by phone on 3 March",
        "by": "zoe@peerpost.test"}
    page = client.http.get(response.headers["Location"], headers=coordinator["headers"]).body.decode()
    assert "Unsubscribed. The reason is kept" in page and "Asked by phone on 3 March" in page
    again = post(client, coordinator, path, {"reason": "Asked again"})
    assert again.headers["Location"].endswith("done=already-unsubscribed")
    assert len(subscriptions.load(sid)["consent_history"]) == len(item["consent_history"])


def test_resend_confirmation_to_a_pending_sign_up_acts_once_per_form(client, outbox, coordinator):
    subscribe(client, person(1))
    sid = sid_of(person(1)["email"])
    before = len(outbox.to(person(1)["email"]))
    page = client.http.get(f"/coordinator/subscribers/{sid}", headers=coordinator["headers"]).body.decode()
    submission = re.search(r'name="submission" value="([^"]+)"', page).group(1)
    path = f"/coordinator/subscribers/{sid}/confirmation"
    assert post(client, coordinator, path, {"submission": submission}).headers["Location"].endswith("done=confirmation-sent")
    assert post(client, coordinator, path, {"submission": submission}).headers["Location"].endswith("done=confirmation-not-sent")
    mails = outbox.to(person(1)["email"])
    assert len(mails) == before + 1
    confirm_path = link(mails[-1], "confirm")
    assert client.http.post(confirm_path, headers={"Content-Type": "application/x-www-form-urlencoded"},
                            body="").status_code in (200, 303)
    from chalicelib import subscriptions

    assert subscriptions.load(sid)["status"] == "confirmed"
    again = post(client, coordinator, path, {"submission": "another-form-id"})
    assert again.headers["Location"].endswith("done=confirmation-not-sent")  # confirmed: nothing to resend


def test_export_and_erase_keep_only_the_suppression_hash(client, outbox, coordinator):
    from chalicelib import aws, keys, subscriptions

    confirmed(client, outbox, person(1, name="Robin"))
    sid = sid_of(person(1)["email"])
    data = client.http.get(f"/coordinator/subscribers/{sid}/data.json", headers=coordinator["headers"])
    assert data.status_code == 200 and json.loads(data.body)["email"] == "person001@example.org"
    assert "attachment" in data.headers["Content-Disposition"]

    path = f"/coordinator/subscribers/{sid}/erase"
    refused = post(client, coordinator, path, {})
    assert refused.status_code == 400 and "Tick the box to confirm the erasure." in refused.body.decode()
    assert subscriptions.load(sid) is not None
    response = post(client, coordinator, path, {"confirm": "yes"})
    assert response.status_code == 303 and response.headers["Location"] == "/coordinator/subscribers?done=erased"
    held = aws.table().scan()["Items"]
    assert [i for i in held if i["PK"].startswith("SUB#")] == []
    assert aws.table().get_item(Key=keys.suppression(sid))["Item"]["reason"] == "erased"
    assert "person001@example.org" not in json.dumps(held, default=str) and "Robin" not in json.dumps(held, default=str)
    assert post(client, coordinator, path, {"confirm": "yes"}).status_code == 303  # a second press: same answer
    assert client.http.get(f"/coordinator/subscribers/{sid}", headers=coordinator["headers"]).status_code == 404
    found = client.http.get("/coordinator/subscribers?find=Robin", headers=coordinator["headers"]).body.decode()
    assert listed(found) == []


def test_a_name_change_moves_the_name_search(client, outbox, coordinator):
    from tests.conftest import FORM

    welcome = confirmed(client, outbox, person(1, name="Robin"))
    preferences = link(welcome, "preferences")
    client.http.post(preferences, headers=FORM, body=form({"first_name": "Jo", "topics": ["newsletter"]}))

    def find(text):
        return listed(client.http.get("/coordinator/subscribers?find=" + text, headers=coordinator["headers"]).body.decode())

    assert find("Robin") == [] and find("jo") == [sid_of(person(1)["email"])]
    client.http.post(preferences, headers=FORM, body=form({"first_name": "", "topics": ["newsletter"]}))
    assert find("jo") == []


def test_actions_need_the_csrf_token(client, outbox, coordinator):
    confirmed(client, outbox, person(1))
    sid = sid_of(person(1)["email"])
    for action in ("unsubscribe", "erase", "confirmation"):
        response = client.http.post(f"/coordinator/subscribers/{sid}/{action}", headers=coordinator["form_headers"],
                                    body=form({"reason": "r", "confirm": "yes"}))
        assert response.status_code == 403
    from chalicelib import subscriptions

    assert subscriptions.load(sid)["status"] == "confirmed"


def test_coordinators_make_tags_tag_people_and_filter_by_tag(client, outbox, coordinator):
    from chalicelib import subscriptions

    for n in range(3):
        confirmed(client, outbox, person(n, topics=("newsletter", "events")))
    response = post(client, coordinator, "/coordinator/tags", {"tag": "  "})
    assert response.status_code == 400 and "Enter a tag" in response.body.decode()
    response = post(client, coordinator, "/coordinator/tags", {"tag": "x" * 41})
    assert response.status_code == 400 and 'value="' + "x" * 41 + '"' in response.body.decode()
    assert post(client, coordinator, "/coordinator/tags", {"tag": "peer worker"}).headers["Location"] == "/coordinator/tags?done=added"
    assert post(client, coordinator, "/coordinator/tags", {"tag": "peer worker"}).headers["Location"] == "/coordinator/tags?done=exists"
    post(client, coordinator, "/coordinator/tags", {"tag": "organisation"})
    assert "organisation" in client.http.get("/coordinator/tags", headers=coordinator["headers"]).body.decode()

    from chalicelib import audience

    ids = {name: tag_id for tag_id, name in audience.tags().items()}
    worker, organisation = ids["peer worker"], ids["organisation"]
    sid0, sid1 = sid_of(person(0)["email"]), sid_of(person(1)["email"])
    for sid in (sid0, sid1):
        response = post(client, coordinator, f"/coordinator/subscribers/{sid}/tags", {"tag": worker})
        assert response.headers["Location"] == f"/coordinator/subscribers/{sid}?done=tag-added"
    post(client, coordinator, f"/coordinator/subscribers/{sid0}/tags", {"tag": worker})  # twice: once
    refused = post(client, coordinator, f"/coordinator/subscribers/{sid0}/tags", {"tag": "made up"})
    assert refused.status_code == 400 and "Choose a tag from the list." in refused.body.decode()
    assert subscriptions.load(sid0)["tags"] == {worker}

    def tagged(query: str) -> list[str]:
        return sorted(listed(client.http.get("/coordinator/subscribers?" + query, headers=coordinator["headers"]).body.decode()))

    body = client.http.get(f"/coordinator/subscribers?status=confirmed&topic=events&tag={worker}",
                           headers=coordinator["headers"]).body.decode()
    assert "tagged peer worker: 2 people" in body
    assert tagged(f"status=confirmed&tag={worker}") == sorted([sid0, sid1])
    assert client.http.get("/coordinator/subscribers?tag=nope", headers=coordinator["headers"]).status_code == 400

    response = post(client, coordinator, f"/coordinator/subscribers/{sid1}/tags", {"tag": worker, "action": "remove"})
    assert response.headers["Location"].endswith("done=tag-removed")
    assert tagged(f"status=confirmed&tag={worker}") == [sid0]
    page = client.http.get(f"/coordinator/subscribers/{sid0}", headers=coordinator["headers"]).body.decode()
    assert "Remove “peer worker”" in page and f'<option value="{organisation}">organisation</option>' in page
    data = json.loads(client.http.get(f"/coordinator/subscribers/{sid0}/data.json", headers=coordinator["headers"]).body)
    assert data["tags"] == ["peer worker"]  # a person's tags are theirs to see, by name

    # Renaming is one write: everyone who had the tag has it under its new name.
    clash = post(client, coordinator, f"/coordinator/tags/{worker}/rename", {"name": "Organisation"})
    assert clash.status_code == 400 and "There is already a tag called “organisation”" in clash.body.decode()
    assert 'value="Organisation"' in clash.body.decode()  # what they typed, re-shown
    assert post(client, coordinator, f"/coordinator/tags/{worker}/rename",
                {"name": "peer supporter"}).headers["Location"] == "/coordinator/tags?done=renamed"
    page = client.http.get(f"/coordinator/subscribers/{sid0}", headers=coordinator["headers"]).body.decode()
    assert "Remove “peer supporter”" in page and "peer worker" not in page
    assert tagged(f"status=confirmed&tag={worker}") == [sid0]
    assert post(client, coordinator, "/coordinator/tags/nope/rename", {"name": "x"}).status_code == 404

    # Deleting needs the box ticked; then nobody shows it, and it cannot be filtered by.
    unticked = post(client, coordinator, f"/coordinator/tags/{worker}/delete", {})
    assert unticked.status_code == 400 and "Tick the box" in unticked.body.decode()
    assert post(client, coordinator, f"/coordinator/tags/{worker}/delete",
                {"confirm": "yes"}).headers["Location"] == "/coordinator/tags?done=deleted"
    assert post(client, coordinator, f"/coordinator/tags/{worker}/delete",
                {"confirm": "yes"}).headers["Location"] == "/coordinator/tags?done=gone"
    page = client.http.get(f"/coordinator/subscribers/{sid0}", headers=coordinator["headers"]).body.decode()
    assert "peer supporter" not in page
    assert client.http.get(f"/coordinator/subscribers?tag={worker}", headers=coordinator["headers"]).status_code == 400
    assert json.loads(client.http.get(f"/coordinator/subscribers/{sid0}/data.json",
                                      headers=coordinator["headers"]).body)["tags"] == []


def test_the_set_of_tags_stays_small(client, coordinator, monkeypatch):
    from chalicelib import audience

    monkeypatch.setattr(audience, "MAX_TAGS", 2)
    for name in ("one", "two"):
        assert post(client, coordinator, "/coordinator/tags", {"tag": name}).status_code == 303
    response = post(client, coordinator, "/coordinator/tags", {"tag": "three"})
    assert response.status_code == 400 and "There are already 2 tags" in response.body.decode()
    assert list(audience.tags().values()) == ["one", "two"]


def test_signing_up_again_keeps_the_tags_a_coordinator_gave(client, outbox, coordinator):
    from chalicelib import subscriptions

    confirmed(client, outbox, person(1))
    sid = sid_of(person(1)["email"])
    from chalicelib import audience

    post(client, coordinator, "/coordinator/tags", {"tag": "organisation"})
    (tag_id,) = audience.tags()
    post(client, coordinator, f"/coordinator/subscribers/{sid}/tags", {"tag": tag_id})
    post(client, coordinator, f"/coordinator/subscribers/{sid}/unsubscribe", {"reason": "Asked by email"})
    subscribe(client, person(1))
    assert subscriptions.load(sid)["status"] == "pending" and subscriptions.load(sid)["tags"] == {tag_id}


def test_add_a_person_by_hand_sends_the_confirmation_and_records_where_consent_came_from(client, outbox, coordinator):
    from chalicelib import subscriptions

    page = client.http.get("/coordinator/add-subscriber", headers=coordinator["headers"]).body.decode()
    submission = re.search(r'name="submission" value="([^"]+)"', page).group(1)
    typed = {"email": "kim@example.org", "first_name": "Kim", "topics": ["events"], "submission": submission}
    refused = post(client, coordinator, "/coordinator/add-subscriber", typed)
    body = refused.body.decode()
    assert refused.status_code == 400 and "Say where they asked to join" in body
    assert "Tick the box to record that they agreed" in body and 'value="kim@example.org"' in body
    assert 'value="events" checked' in body and outbox.to("kim@example.org") == []

    added = {**typed, "source": "At the March network meeting", "consent": "yes"}
    response = post(client, coordinator, "/coordinator/add-subscriber", added)
    sid = sid_of("kim@example.org")
    assert response.headers["Location"] == f"/coordinator/subscribers/{sid}?done=added-sent"
    assert post(client, coordinator, "/coordinator/add-subscriber", added).status_code == 303  # pressed twice
    assert len(outbox.to("kim@example.org")) == 1  # one confirmation, nothing else
    item = subscriptions.load(sid)
    assert item["status"] == "pending" and item["consent"]["method"] == "coordinator"
    assert item["consent"]["source"] == "At the March network meeting" and item["consent"]["by"] == "zoe@peerpost.test"
    shown = client.http.get(response.headers["Location"], headers=coordinator["headers"]).body.decode()
    assert "At the March network meeting" in shown and "confirmation email" in shown

    assert client.http.post(link(outbox.to("kim@example.org")[0], "confirm"),
                            headers={"Content-Type": "application/x-www-form-urlencoded"}, body="").status_code in (200, 303)
    again = post(client, coordinator, "/coordinator/add-subscriber", {**added, "submission": "a-new-form-id"})
    assert again.headers["Location"].endswith("done=added-already")
    assert len(outbox.to("kim@example.org")) == 2  # the confirmation and the welcome only

    subscriptions.suppress("kim@example.org", "complaint")
    gone = post(client, coordinator, "/coordinator/add-subscriber", {**added, "submission": "third-form-id"})
    assert gone.headers["Location"].endswith("done=added-cannot") and len(outbox.to("kim@example.org")) == 2
