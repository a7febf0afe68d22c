"""The subscriber journey through the HTTP routes, against moto."""
from __future__ import annotations

import json
import re

from tests.conftest import FORM, JSON, as_json, form, html_of, process_signups, text_of

SIGN_UP = {"email": "sam@example.org", "first_name": "Sam", "topics": ["newsletter"], "consent": "yes"}


def link(message, path: str) -> str:
    found = re.search(rf"https://peerpost\.test(/{path}/[A-Za-z0-9_.\-]+)", text_of(message))
    assert found, f"no /{path}/ link in the message"
    return found.group(1)


def follow(client, response):
    """A browser following a POST's 303 (POST/redirect/GET), or the response itself."""
    if response.status_code == 303:
        return client.http.get(response.headers["Location"])
    return response


def subscribe(client, data=SIGN_UP):
    """The form posted and its redirect followed, then the signups queue processed (in AWS, moments later)."""
    response = follow(client, client.http.post("/subscribe", headers=FORM, body=form(data)))
    process_signups()
    return response


def confirmed(client, outbox, data=SIGN_UP):
    subscribe(client, data)
    confirm_path = link(outbox.to(data["email"])[-1], "confirm")
    assert follow(client, client.http.post(confirm_path, headers=FORM, body="")).status_code == 200
    return outbox.to(data["email"])[-1]  # the welcome email


def test_subscribe_sends_only_a_confirmation(client, outbox):
    response = subscribe(client)
    assert response.status_code == 200
    assert b"Check your email" in response.body
    [message] = outbox.to("sam@example.org")
    assert message["Subject"] == "Please confirm your subscription"
    assert "List-Unsubscribe" not in message  # not a subscriber yet
    assert "/confirm/" in text_of(message) and "/confirm/" in html_of(message)


def test_the_web_request_does_the_same_work_whatever_the_address_is(client, outbox):
    """Nothing in the request depends on the address (no lookup, no email), so neither its answer nor
    its timing can tell a new address from a pending, confirmed or suppressed one."""
    from collections import Counter

    from chalicelib import aws, subscriptions

    confirmed(client, outbox, {**SIGN_UP, "email": "known@example.org"})
    subscribe(client, {**SIGN_UP, "email": "pending@example.org"})
    confirmed(client, outbox, {**SIGN_UP, "email": "blocked@example.org"})
    assert subscriptions.suppress("blocked@example.org", "complaint")
    before = len(outbox.to("blocked@example.org"))
    clients = [aws.table().meta.client, aws.sqs(), aws.sesv2()]

    def requests_made(address: str) -> tuple[Counter, bytes]:
        made: Counter = Counter()

        def counting(model, **kwargs):
            made[model.name] += 1

        for c in clients:
            c.meta.events.register("before-call", counting)
        try:
            response = client.http.post("/subscribe", headers=FORM,
                                        body=form({**SIGN_UP, "email": address, "submission": f"form-{address}"}))
        finally:
            for c in clients:
                c.meta.events.unregister("before-call", counting)
        return made, response.body

    seen = {address: requests_made(address) for address in
            ("new@example.org", "pending@example.org", "known@example.org", "blocked@example.org")}
    assert len({json.dumps(made, sort_keys=True) for made, _ in seen.values()}) == 1
    assert len({body for _, body in seen.values()}) == 1
    made = next(iter(seen.values()))[0]
    assert made["SendEmail"] == 0 and made["GetItem"] == 0 and made["SendMessage"] == 1
    assert process_signups() == 4
    assert [m["Subject"] for m in outbox.to("known@example.org")][-1] == "You are already subscribed"
    assert len(outbox.to("blocked@example.org")) == before  # a complaint: nothing more, ever


def test_confirm_get_changes_nothing_post_confirms_once(client, outbox):
    from chalicelib import subscriptions

    subscribe(client)
    path = link(outbox.to("sam@example.org")[0], "confirm")
    assert client.http.get(path).status_code == 200
    assert subscriptions.counts_by_status()["confirmed"] == 0
    assert client.http.post(path, headers=FORM, body="").status_code == 303
    assert follow(client, client.http.post(path, headers=FORM, body="")).status_code == 200
    assert subscriptions.counts_by_status() == {"pending": 0, "confirmed": 1, "unsubscribed": 0}
    subjects = [m["Subject"] for m in outbox.to("sam@example.org")]
    assert subjects == ["Please confirm your subscription", "Welcome to #PeerTalk"]


def test_welcome_has_one_click_unsubscribe_headers(client, outbox):
    welcome = confirmed(client, outbox)
    assert welcome["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert re.fullmatch(r"<https://peerpost\.test/unsubscribe/[^>]+>", welcome["List-Unsubscribe"])
    assert welcome["List-Id"]
    assert "/preferences/" in text_of(welcome)
    [plain, rich] = welcome.get_payload()
    assert (plain.get_content_type(), rich.get_content_type()) == ("text/plain", "text/html")


def test_invalid_email_reshows_form_with_what_was_typed(client, outbox):
    response = subscribe(client, {**SIGN_UP, "email": "not-an-address", "first_name": "Sam <b>"})
    assert response.status_code == 400
    page = response.body.decode()
    assert "Enter a valid email address" in page
    assert 'value="not-an-address"' in page
    assert "Sam &lt;b&gt;" in page
    assert outbox.messages() == []


def test_missing_consent_is_refused(client, outbox):
    response = subscribe(client, {k: v for k, v in SIGN_UP.items() if k != "consent"})
    assert response.status_code == 400
    assert "Tick the box" in response.body.decode()
    assert outbox.messages() == []


def test_json_api_same_answer_for_every_state(client, outbox):
    api_sign_up = {**SIGN_UP, "consent": True}
    bodies = []
    for _ in range(2):
        response = client.http.post("/api/subscriptions", headers=JSON, body=as_json(api_sign_up))
        process_signups()
        assert response.status_code == 202
        bodies.append(response.body)
    confirm_path = link(outbox.to("sam@example.org")[-1], "confirm")
    client.http.post(confirm_path, headers=FORM, body="")
    bodies.append(client.http.post("/api/subscriptions", headers=JSON, body=as_json(api_sign_up)).body)
    fresh = client.http.post("/api/subscriptions", headers=JSON, body=as_json({**api_sign_up, "email": "new@example.org"}))
    process_signups()
    bodies.append(fresh.body)
    assert len(set(bodies)) == 1
    assert outbox.to("sam@example.org")[-1]["Subject"] == "You are already subscribed"


def test_json_validation_error_names_the_field(client):
    response = client.http.post("/api/subscriptions", headers=JSON,
                                body=as_json({**SIGN_UP, "consent": True, "email": "x"}))
    assert response.status_code == 400
    assert "email" in json.loads(response.body)["fields"]
    wrong_types = client.http.post("/api/subscriptions", headers=JSON,
                                   body=as_json({"email": ["a"], "topics": "newsletter", "consent": "yes"}))
    assert wrong_types.status_code == 400
    assert set(json.loads(wrong_types.body)["fields"]) == {"email", "topics", "consent"}


def test_honeypot_looks_the_same_and_sends_nothing(client, outbox):
    response = subscribe(client, {**SIGN_UP, "website": "http://spam.example"})
    assert response.status_code == 200 and b"Check your email" in response.body
    assert outbox.messages() == []


def test_per_address_rate_limit_stops_list_bombing(client, outbox):
    for _ in range(8):
        assert subscribe(client).status_code == 200
    assert len(outbox.to("sam@example.org")) == 5


def test_one_click_unsubscribe_post_form_and_multipart(client, outbox):
    from chalicelib import subscriptions

    welcome = confirmed(client, outbox)
    url = welcome["List-Unsubscribe"].strip("<>").replace("https://peerpost.test", "")
    assert client.http.get(url).status_code == 200
    assert subscriptions.counts_by_status()["confirmed"] == 1  # GET changed nothing
    boundary = "XyZ"
    multipart = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\n"
                 f"One-Click\r\n--{boundary}--\r\n")
    response = client.http.post(url, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
                                body=multipart)
    assert response.status_code == 200
    assert "location" not in {k.lower() for k in response.headers}
    assert subscriptions.counts_by_status()["unsubscribed"] == 1
    again = client.http.post(url, headers=FORM, body="List-Unsubscribe=One-Click")
    assert again.status_code == 200


def test_tampered_token_is_a_clear_4xx(client):
    for path in ("/unsubscribe/abc.def", "/preferences/nope", "/confirm/xyz"):
        response = client.http.post(path, headers=FORM, body="")
        assert 400 <= response.status_code < 500, path
        assert b"link" in response.body


def test_preferences_change_topics_and_export(client, outbox):
    welcome = confirmed(client, outbox)
    path = link(welcome, "preferences")
    page = client.http.get(path)
    assert page.status_code == 200 and b"sam@example.org" in page.body
    saved = follow(client, client.http.post(path, headers=FORM,
                                            body=form({"first_name": "Samira", "topics": ["newsletter", "events"]})))
    assert saved.status_code == 200 and b"saved" in saved.body
    exported = json.loads(client.http.post(path + "/export", headers=FORM, body="").body)
    assert exported["first_name"] == "Samira"
    assert exported["topics"] == ["newsletter", "events"]
    assert exported["consent"]["wording_version"]
    assert exported["consent"]["confirmed_at"]


def test_erase_leaves_only_a_hashed_suppression(client, outbox):
    from chalicelib import aws

    welcome = confirmed(client, outbox)
    path = link(welcome, "preferences")
    assert client.http.post(path + "/erase", headers=FORM, body="").status_code == 400  # not confirmed
    assert follow(client, client.http.post(path + "/erase", headers=FORM, body="confirm=yes")).status_code == 200
    items = aws.table().scan()["Items"]
    # Rate counters and the overview's monthly counts are aggregates: nothing of the person is in them.
    people = [i for i in items if not i["PK"].startswith("RATE#") and i["PK"] != "STATS"]
    assert [i["PK"].split("#")[0] for i in people] == ["SUPPRESS"]
    assert "sam@example.org" not in json.dumps(items, default=str)
    assert client.http.get(path).status_code == 404


def test_resubscribe_after_erasure_needs_a_new_opt_in(client, outbox):
    from chalicelib import subscriptions

    welcome = confirmed(client, outbox)
    path = link(welcome, "preferences")
    client.http.post(path + "/erase", headers=FORM, body="confirm=yes")
    assert not subscriptions.is_mailable(subscriptions.email_id("sam@example.org"), "newsletter")
    confirmed(client, outbox)
    assert subscriptions.is_mailable(subscriptions.email_id("sam@example.org"), "newsletter")


def test_expired_signup_cannot_be_confirmed(client, outbox):
    from chalicelib import clock, subscriptions

    subscribe(client)
    path = link(outbox.to("sam@example.org")[0], "confirm")
    clock.advance(73 * 3600)
    response = client.http.post(path, headers=FORM, body="")
    assert response.status_code == 410
    assert subscriptions.purge_expired_pending() == 1
    assert subscriptions.counts_by_status()["pending"] == 0


def test_security_headers_on_pages(client):
    headers = {k.lower(): v for k, v in client.http.get("/").headers.items()}
    assert "frame-ancestors" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"]


def test_expired_preferences_link_points_to_a_new_one(client, outbox):
    from chalicelib import clock

    welcome = confirmed(client, outbox)
    path = link(welcome, "preferences")
    clock.advance(91 * 86400)
    expired = client.http.get(path)
    assert expired.status_code == 410 and b"/preferences" in expired.body
    for address in ("sam@example.org", "stranger@example.org"):
        response = follow(client, client.http.post("/preferences", headers=FORM, body=form({"email": address})))
        assert response.status_code == 200 and b"If we hold that address" in response.body
    assert process_signups() == 2
    fresh = outbox.to("sam@example.org")[-1]
    assert fresh["Subject"] == "Your #PeerTalk preferences link"
    assert client.http.get(link(fresh, "preferences")).status_code == 200
    assert outbox.to("stranger@example.org") == []


def test_control_characters_in_a_name_are_dropped_not_a_500(client, outbox):
    response = client.http.post("/api/subscriptions", headers=JSON, body=as_json(
        {**SIGN_UP, "consent": True, "first_name": "Ro\u0007bin\u0084 \U000f4e15"}))
    assert response.status_code == 202
    process_signups()
    [message] = outbox.to("sam@example.org")
    assert "Robin" in text_of(message)


def test_per_client_rate_limit_answers_429(client, outbox, monkeypatch):
    from chalicelib import settings

    monkeypatch.setenv("PEERPOST_RATE_LIMIT_PER_CLIENT", "3")
    settings.reset()
    statuses = [subscribe(client, {**SIGN_UP, "email": f"p{n}@example.org"}).status_code for n in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    assert len(outbox.messages()) == 3


def test_saving_preferences_never_resubscribes(client, outbox):
    from chalicelib import subscriptions

    welcome = confirmed(client, outbox)
    path = link(welcome, "preferences")
    client.http.post(link(welcome, "unsubscribe"), headers=FORM, body="List-Unsubscribe=One-Click")
    page = follow(client, client.http.post(path, headers=FORM, body=form({"first_name": "Sam", "topics": ["newsletter"]})))
    assert page.status_code == 200 and b"You are unsubscribed" in page.body
    assert b"Your preferences are saved." not in page.body
    assert b"saving does not subscribe you again" in page.body
    assert subscriptions.counts_by_status()["confirmed"] == 0
    assert not subscriptions.is_mailable(subscriptions.email_id("sam@example.org"), "newsletter")


def test_odd_json_shapes_and_oversized_forms_are_4xx_not_500(client, outbox):
    odd = [{"email": "a@example.org", "topics": 5, "consent": True},
           {"email": "a@example.org", "topics": [["x"]], "consent": True},
           {"email": "a@example.org", "topics": [{"a": 1}], "consent": True}]
    for body in odd:
        assert client.http.post("/subscribe", headers=JSON, body=as_json(body)).status_code == 400
    many = "&".join(f"f{n}=x" for n in range(500))
    assert client.http.post("/subscribe", headers=FORM, body=many).status_code == 400
    assert client.http.post("/stories/new", headers=FORM, body=many).status_code in (400, 413)


def test_sign_in_next_cannot_inject_headers(client, coordinator):
    from tests.conftest import COORDINATOR

    response = client.http.post("/coordinator/sign-in", headers=FORM, body=form(
        {"email": COORDINATOR[0], "password": COORDINATOR[1], "next": "/coordinator\r\nSet-Cookie: x=y"}))
    assert response.status_code == 303 and response.headers["Location"] == "/coordinator/sign-in/code?next=%2Fcoordinator"


def test_unsubscribed_person_gets_a_preferences_link_with_export_and_erase(client, outbox):
    """Issue 11 item 10: the rights of access and erasure do not end at unsubscribe."""
    welcome = confirmed(client, outbox)
    client.http.post(link(welcome, "unsubscribe"), headers=FORM, body="List-Unsubscribe=One-Click")
    answers = {follow(client, client.http.post("/preferences", headers=FORM, body=form({"email": a}))).body
               for a in ("sam@example.org", "stranger@example.org")}
    assert len(answers) == 1  # the same answer whatever the address
    process_signups()
    fresh = outbox.to("sam@example.org")[-1]
    assert fresh["Subject"] == "Your #PeerTalk preferences link"
    assert "You are unsubscribed" in text_of(fresh)
    assert "List-Unsubscribe" not in fresh
    page = client.http.get(link(fresh, "preferences"))
    assert page.status_code == 200
    body = page.body.decode()
    assert "You are unsubscribed" in body and 'href="/subscribe"' in body
    assert "/export" in body and "/erase" in body
    assert outbox.to("stranger@example.org") == []


def test_links_from_before_an_erasure_die_with_the_data(client, outbox):
    """Issue 11 item 11: after erasure and a new sign-up, old confirm and preferences links are dead."""
    subscribe(client)
    old_confirm = link(outbox.to("sam@example.org")[-1], "confirm")
    follow(client, client.http.post(old_confirm, headers=FORM, body=""))
    old_preferences = link(outbox.to("sam@example.org")[-1], "preferences")
    follow(client, client.http.post(old_preferences + "/erase", headers=FORM, body="confirm=yes"))
    subscribe(client)
    new_confirm = link(outbox.to("sam@example.org")[-1], "confirm")
    assert new_confirm != old_confirm
    assert client.http.get(old_confirm).status_code == 410
    assert client.http.post(old_confirm, headers=FORM, body="").status_code == 410
    assert client.http.get(old_preferences).status_code == 404
    assert client.http.post(old_preferences + "/export", headers=FORM, body="").status_code == 404
    assert follow(client, client.http.post(new_confirm, headers=FORM, body="")).status_code == 200
    assert client.http.get(old_preferences).status_code == 404  # still dead once confirmed afresh
    assert client.http.get(link(outbox.to("sam@example.org")[-1], "preferences")).status_code == 200


def test_confirm_page_checks_the_link_on_get_and_changes_nothing(client, outbox):
    """Issue 11 item 12: no button for a tampered or expired link; the GET has no side effects."""
    from chalicelib import clock, subscriptions

    subscribe(client)
    path = link(outbox.to("sam@example.org")[0], "confirm")
    tampered = client.http.get(path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB"))
    assert tampered.status_code == 400
    assert b"Yes, subscribe me" not in tampered.body and b'href="/subscribe"' in tampered.body
    good = client.http.get(path)
    assert good.status_code == 200 and b"Yes, subscribe me" in good.body
    assert subscriptions.counts_by_status()["confirmed"] == 0
    clock.advance(73 * 3600)
    expired = client.http.get(path)
    assert expired.status_code == 410
    assert b"Yes, subscribe me" not in expired.body and b'href="/subscribe"' in expired.body
    assert [m["Subject"] for m in outbox.to("sam@example.org")] == ["Please confirm your subscription"]


def test_forms_redirect_after_post_and_a_resent_form_acts_once(client, outbox):
    """Issue 11 item 13: POST/redirect/GET, and the same submitted form twice sends one email."""
    from chalicelib import subscriptions

    page = client.http.get("/subscribe").body.decode()
    submission = re.search(r'name="submission" value="([^"]+)"', page).group(1)
    data = {**SIGN_UP, "submission": submission}
    for _ in range(2):  # a double press, or Back and submit again
        response = client.http.post("/subscribe", headers=FORM, body=form(data))
        assert response.status_code == 303 and response.headers["Location"] == "/subscribe/check-email"
    process_signups()
    assert len(outbox.to("sam@example.org")) == 1
    assert subscriptions.counts_by_status()["pending"] == 1
    confirm_path = link(outbox.to("sam@example.org")[0], "confirm")
    assert client.http.post(confirm_path, headers=FORM, body="").status_code == 303
    welcome = outbox.to("sam@example.org")[-1]
    preferences = link(welcome, "preferences")
    saved = client.http.post(preferences, headers=FORM, body=form({"topics": ["events"]}))
    assert saved.status_code == 303
    link_request = {"email": "sam@example.org", "submission": "link-form-123456"}
    for _ in range(2):
        assert client.http.post("/preferences", headers=FORM, body=form(link_request)).status_code == 303
    process_signups()
    assert [m["Subject"] for m in outbox.to("sam@example.org")].count("Your #PeerTalk preferences link") == 1
    unsubscribed = client.http.post(link(welcome, "unsubscribe"), headers=FORM,
                                    body="List-Unsubscribe=One-Click&via=page")
    assert unsubscribed.status_code == 303
    assert b"You are unsubscribed" in follow(client, unsubscribed).body


def test_topic_error_reshows_exactly_what_was_ticked(client, outbox):
    """Smaller item: after "choose at least one", nothing is ticked that the person did not tick."""
    response = subscribe(client, {"email": "sam@example.org", "first_name": "Sam", "consent": "yes"})
    assert response.status_code == 400
    page = response.body.decode()
    assert "Choose at least one" in page
    assert 'value="newsletter" checked' not in page and 'value="events" checked' not in page
    assert 'value="Sam"' in page and 'id="consent" name="consent" value="yes" checked' in page
    wrong = subscribe(client, {**SIGN_UP, "topics": ["events"], "email": "x"})
    assert 'value="events" checked' in wrong.body.decode()
    assert 'value="newsletter" checked' not in wrong.body.decode()
    welcome = confirmed(client, outbox)
    preferences = link(welcome, "preferences")
    refused = client.http.post(preferences, headers=FORM, body=form({"first_name": "S" * 81, "topics": ["events"]}))
    assert refused.status_code == 400
    assert 'value="events" checked' in refused.body.decode()
    assert 'value="newsletter" checked' not in refused.body.decode()
