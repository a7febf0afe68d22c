"""The HTTP plumbing every route shares (chalicelib/web.py), through the test client and through events
shaped as API Gateway sends them: return addresses, POST/redirect/GET, pages for addresses and methods no
route serves, and bodies built to break the parser."""
from __future__ import annotations

import json
import re

import pytest

from tests.conftest import COORDINATOR, FORM, JSON, as_json, form, text_of

STAGE_URL = "https://abc123.execute-api.eu-west-2.amazonaws.com/api"
SAFEGUARDING_STORY = {"title": "A hard winter", "text": "Last winter I wanted to end my life.", "level": "anonymous",
                      "channels": ["newsletter"], "consent": "yes"}


def gateway(method: str, path: str, resource: str, params: dict | None = None, headers: dict | None = None,
            body: str | None = None, query: dict | None = None, stage: str = "api",
            source_ip: str = "198.51.100.7") -> dict:
    """The app as Lambda runs it behind API Gateway: requestContext.path carries the stage."""
    from app import app
    from localdev.runner import LambdaContext

    headers = {k.lower(): v for k, v in (headers or {}).items()}
    event = {
        "resource": resource, "path": path, "httpMethod": method, "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": query, "multiValueQueryStringParameters": {k: [v] for k, v in (query or {}).items()} or None,
        "pathParameters": params, "stageVariables": None, "body": body, "isBase64Encoded": False,
        "requestContext": {"resourcePath": resource, "httpMethod": method, "path": f"/{stage}{path}", "stage": stage,
                           "identity": {"sourceIp": source_ip}, "requestId": "test-request"},
    }
    return app(event, LambdaContext("api_handler"))


def alert_path(outbox) -> str:
    [alert] = outbox.to("safeguarding@peerpost.example.org")
    found = re.search(r"https://[^/\s]+((?:/api)?/coordinator/stories/[a-z0-9]+)", text_of(alert))
    assert found, "no story link in the safeguarding alert"
    return found.group(1)


# ---------------------------------------------------------------- the page you asked for, after signing in

def test_the_safeguarding_alert_link_lands_on_the_story_after_sign_in(client, outbox):
    from chalicelib import auth, roles

    auth.create_coordinator(*COORDINATOR, name="Zoe", granted=(roles.MODERATOR,))  # a password is enough
    client.http.post("/stories/new", headers=FORM, body=form(SAFEGUARDING_STORY))
    path = alert_path(outbox)

    signed_out = client.http.get(path)
    assert signed_out.status_code == 303
    sign_in_page = client.http.get(signed_out.headers["Location"])
    assert f'name="next" value="{path}"' in sign_in_page.body.decode()
    signed_in = client.http.post("/coordinator/sign-in", headers=FORM, body=form(
        {"email": COORDINATOR[0], "password": COORDINATOR[1], "next": path}))
    assert signed_in.status_code == 303 and signed_in.headers["Location"] == path
    story = client.http.get(path, headers={"Cookie": signed_in.headers["Set-Cookie"].split(";")[0]})
    assert story.status_code == 200 and b"Safeguarding:" in story.body


def test_every_coordinator_page_is_returned_to_by_its_real_address(client, outbox):
    from urllib.parse import parse_qs, urlparse

    from app import app

    checked = 0
    for pattern, methods in app.routes.items():
        if pattern.startswith("/coordinator/") and "{" in pattern and "GET" in methods:
            concrete = re.sub(r"{\w+}", "ab12", pattern)
            location = client.http.get(concrete).headers["Location"]
            assert parse_qs(urlparse(location).query)["next"] == [concrete], pattern
            checked += 1
    assert checked >= 8  # stories, events and issues alike


def test_the_return_address_keeps_the_query(client, outbox):
    response = client.http.get("/coordinator/stories?status=new")
    assert response.headers["Location"] == "/coordinator/sign-in?next=%2Fcoordinator%2Fstories%3Fstatus%3Dnew"


def test_behind_api_gateway_the_stage_is_kept_and_the_story_reached(client, outbox, monkeypatch):
    from chalicelib import auth, roles, settings

    monkeypatch.setenv("PEERPOST_PUBLIC_BASE_URL", STAGE_URL)
    settings.reset()
    auth.create_coordinator(*COORDINATOR, name="Zoe", granted=(roles.MODERATOR,))
    client.http.post("/stories/new", headers=FORM, body=form(SAFEGUARDING_STORY))
    path = alert_path(outbox)
    assert path.startswith("/api/coordinator/stories/")
    story_id = path.rsplit("/", 1)[1]
    app_path = path.removeprefix("/api")

    signed_out = gateway("GET", app_path, "/coordinator/stories/{story_id}", {"story_id": story_id})
    assert signed_out["statusCode"] == 303
    assert signed_out["headers"]["Location"] == "/api/coordinator/sign-in?next=" + app_path.replace("/", "%2F")
    signed_in = gateway("POST", "/coordinator/sign-in", "/coordinator/sign-in", headers=FORM,
                        body=form({"email": COORDINATOR[0], "password": COORDINATOR[1], "next": app_path}))
    assert signed_in["statusCode"] == 303 and signed_in["headers"]["Location"] == path
    cookie = signed_in["headers"]["Set-Cookie"].split(";")[0]
    story = gateway("GET", app_path, "/coordinator/stories/{story_id}", {"story_id": story_id},
                    headers={"Cookie": cookie})
    assert story["statusCode"] == 200 and "Safeguarding:" in story["body"]


def test_a_non_ascii_return_address_still_signs_in(client, coordinator):
    from urllib.parse import parse_qs, urlparse

    def onward(response):  # where the second factor's page will send her
        assert response.status_code == 303 and response.headers["Location"].isascii()
        return parse_qs(urlparse(response.headers["Location"]).query)["next"][0]

    response = client.http.post("/coordinator/sign-in", headers=FORM, body=form(
        {"email": COORDINATOR[0], "password": COORDINATOR[1], "next": "/coordinator/stories?status=né"}))
    assert onward(response).startswith("/coordinator/stories?")
    for hostile in ("https://evil.example/coordinator", "//evil.example", "/coordinatorx", "/coordinator\\x"):
        response = client.http.post("/coordinator/sign-in", headers=FORM, body=form(
            {"email": COORDINATOR[0], "password": COORDINATOR[1], "next": hostile}))
        assert onward(response) == "/coordinator", hostile


# ---------------------------------------------------------------- addresses and methods no route serves

@pytest.mark.parametrize("method, path", [("GET", "/favicon.ico"), ("GET", "/no-such-page"), ("POST", "/nope")])
def test_unknown_addresses_answer_a_404_page(client, method, path):
    response = client.http.request(method, path, headers=FORM, body=b"")
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("text/html")
    assert b"There is no page at this address" in response.body and b'href="/"' in response.body
    assert "Content-Security-Policy" in response.headers


def test_behind_api_gateway_any_unknown_depth_is_a_404_page(client):
    response = gateway("GET", "/no/such/page", "/{proxy+}", {"proxy": "no/such/page"})
    assert response["statusCode"] == 404 and response["headers"]["Content-Type"].startswith("text/html")
    api = gateway("GET", "/api/nothing/here", "/{proxy+}", {"proxy": "api/nothing/here"})
    assert api["statusCode"] == 404 and json.loads(api["body"])["error"] == "Not found"


def test_the_catch_all_shadows_no_real_route(client):
    from app import app

    for path in ("/", "/subscribe", "/stories/new", "/events", "/archive", "/coordinator/sign-in", "/static/style.css"):
        assert client.http.get(path).status_code == 200, path
    assert "/{proxy+}" in app.routes


def test_opening_a_form_address_in_a_new_tab_shows_the_way_to_the_form(client, coordinator, outbox):
    client.http.post("/stories/new", headers=FORM, body=form(SAFEGUARDING_STORY))
    story_id = alert_path(outbox).rsplit("/", 1)[1]
    page = client.http.get(f"/coordinator/stories/{story_id}/status", headers=coordinator["headers"])
    assert page.status_code == 405 and page.headers["Allow"] == "POST"
    assert page.headers["Content-Type"].startswith("text/html")
    assert f'href="/coordinator/stories/{story_id}"' in page.body.decode() and b"Nothing has been sent" in page.body
    signed_out = client.http.get(f"/coordinator/stories/{story_id}/status")
    assert signed_out.status_code == 303 and signed_out.headers["Location"].startswith("/coordinator/sign-in")
    # Routes of every capability, without their modules knowing: the mechanism is in web.route.
    assert b'href="/events/abc"' in client.http.get("/events/abc/register").body


def test_every_address_without_a_get_answers_one_with_a_page(client, coordinator):
    from app import app
    from chalicelib import web

    checked = 0
    for path, methods in app.routes.items():
        explains = getattr(methods.get("GET") and methods["GET"].view_function, "explains_post_only", False)
        if explains and path not in web._LATE_GETS and not path.startswith("/api/"):
            response = client.http.get(re.sub(r"{\w+}", "abc", path), headers=coordinator["headers"])
            assert response.status_code == 405, (path, response.status_code)
            assert response.headers["Content-Type"].startswith("text/html") and b"Go to the form" in response.body
            checked += 1
    assert checked >= 10


def test_a_method_a_route_lacks_is_a_page_not_json(client):
    response = client.http.request("PUT", "/subscribe", headers=FORM, body=b"")
    assert response.status_code == 405 and response.headers["Content-Type"].startswith("text/html")
    api = client.http.request("PUT", "/api/subscriptions", headers=JSON, body=b"{}")
    assert api.status_code == 405 and json.loads(api.body)["Code"] == "MethodNotAllowedError"  # a program asked


# ---------------------------------------------------------------- bodies built to break the parser

JSON_ROUTES = ["/api/subscriptions", "/api/preferences-link", "/api/stories", "/api/coordinator/sessions"]


@pytest.mark.parametrize("path", JSON_ROUTES)
def test_deeply_nested_json_is_a_400(client, path):
    deep = '{"a": ' + "[" * 100_000 + "]" * 100_000 + "}"
    response = client.http.post(path, headers=JSON, body=deep)
    assert response.status_code == 400, response.body[:200]
    assert "nested too deeply" in json.loads(response.body)["message"] or "not valid JSON" in json.loads(response.body)["message"]
    moderate = '{"email": "sam@example.org", "x": ' + "[" * 30 + "]" * 30 + "}"
    assert client.http.post(path, headers=JSON, body=moderate).status_code == 400


@pytest.mark.parametrize("path, data", [
    ("/api/subscriptions", {"email": "sam@example.org", "first_name": "\ud800", "topics": ["newsletter"], "consent": True}),
    ("/api/preferences-link", {"email": "sam\ud800@example.org"}),
    ("/api/stories", {"title": "\udfff", "text": "x", "level": "anonymous", "consent": True}),
    ("/api/coordinator/sessions", {"email": COORDINATOR[0], "password": "\ud800"}),
])
def test_a_lone_surrogate_in_json_is_a_clear_400_and_nothing_is_kept(client, outbox, path, data):
    from chalicelib import stories
    from tests.conftest import process_signups

    response = client.http.post(path, headers=JSON, body=json.dumps(data))  # json.dumps writes "\ud800" escapes
    assert response.status_code == 400
    assert json.loads(response.body)["message"] == "The request contains text that is not valid Unicode."
    assert process_signups() == 0 and sum(stories.counts_by_status().values()) == 0 and outbox.messages() == []


def test_a_lone_surrogate_never_reaches_a_coordinator_json_route(client, coordinator, outbox):
    response = client.http.post("/api/coordinator/events", headers={**JSON, "Authorization": f"Bearer {coordinator['token']}"},
                                body=as_json({"title": "\ud800"}))
    assert response.status_code == 400 and "not valid Unicode" in json.loads(response.body)["message"]
