"""Every coordinator route refuses a missing, expired or forged credential, in the app itself."""
from __future__ import annotations

import pytest

from tests.conftest import COORDINATOR, FORM, JSON, as_json, form


def coordinator_routes():
    from app import app

    for path, methods in app.routes.items():
        if path.startswith("/coordinator") or path.startswith("/api/coordinator"):
            if path in ("/coordinator/sign-in", "/api/coordinator/sessions"):
                continue
            for method in methods:
                yield method, path.replace("{", "").replace("}", "")


def request(client, method, path, headers):
    return getattr(client.http, method.lower())(path, headers=headers, body="" if method != "GET" else None)


def assert_refused(response, method):
    if method == "GET" and response.status_code == 303:
        assert response.headers["Location"].startswith("/coordinator/sign-in")
    else:
        assert response.status_code in (401, 403), response.status_code


@pytest.mark.parametrize("credential", ["none", "forged", "expired", "signed-out"])
def test_every_coordinator_route_refuses(client, coordinator, credential):
    from chalicelib import clock, tokens

    if credential == "none":
        headers = {}
    elif credential == "forged":
        headers = {"Cookie": "pp_session=" + tokens.sign("confirm", "not-a-session")}
    elif credential == "expired":
        headers = coordinator["headers"]
        clock.advance(9 * 3600)
    else:
        client.http.post("/coordinator/sign-out", headers=coordinator["form_headers"],
                         body=form({"csrf_token": coordinator["csrf"]}))
        headers = coordinator["headers"]
    routes = list(coordinator_routes())
    assert len(routes) >= 5
    for method, path in routes:
        assert_refused(request(client, method, path, {**headers, **FORM}), method)
        assert_refused(request(client, method, path, {"Authorization": "Bearer " + headers.get("Cookie", "x=y").split("=", 1)[1]}), method)


def test_signed_in_coordinator_sees_counts_and_csv(client, coordinator):
    page = client.http.get("/coordinator/subscribers", headers=coordinator["headers"])
    assert page.status_code == 200 and b"Confirmed" in page.body
    csv = client.http.get("/coordinator/subscribers.csv", headers=coordinator["headers"])
    assert csv.status_code == 200 and csv.body.startswith(b"email,first_name")


def test_post_without_csrf_token_is_refused(client, coordinator):
    response = client.http.post("/coordinator/sign-out", headers=coordinator["form_headers"], body="")
    assert response.status_code == 403


def test_bearer_token_from_json_sign_in(client, coordinator):
    response = client.http.post("/api/coordinator/sessions", headers=JSON,
                                body=as_json({"email": COORDINATOR[0], "password": COORDINATOR[1]}))
    token = __import__("json").loads(response.body)["token"]
    counts = client.http.get("/api/coordinator/subscribers", headers={"Authorization": f"Bearer {token}"})
    assert counts.status_code == 200


def test_wrong_password_reshows_form_without_saying_which(client, coordinator):
    for email in (COORDINATOR[0], "nobody@peerpost.test"):
        response = client.http.post("/coordinator/sign-in", headers=FORM, body=form({"email": email, "password": "wrong"}))
        assert response.status_code == 400
        assert b"do not match" in response.body
        assert email.encode() in response.body
