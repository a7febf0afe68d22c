"""Every coordinator route refuses a missing, expired or forged credential, in the app itself."""
from __future__ import annotations

import pytest

from tests.conftest import COORDINATOR, COORDINATOR_TOTP, FORM, JSON, OPEN_COORDINATOR_PATHS, as_json, form


def coordinator_routes():
    from app import app

    for path, methods in app.routes.items():
        if path.startswith("/coordinator") or path.startswith("/api/coordinator"):
            if path in OPEN_COORDINATOR_PATHS:
                continue
            for method, entry in methods.items():
                yield method, path.replace("{", "").replace("}", ""), entry.content_types


def request(client, method, path, headers, kinds):
    """Sent as the route takes it (a form where it takes forms): Chalice answers 415 before any view."""
    kind = headers.get("Content-Type", "application/json")
    headers = {**headers, "Content-Type": kind if kind in kinds else kinds[0]}
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
    for method, path, kinds in routes:
        assert_refused(request(client, method, path, {**headers, **FORM}, kinds), method)
        bearer = {"Authorization": "Bearer " + headers.get("Cookie", "x=y").split("=", 1)[1]}
        assert_refused(request(client, method, path, bearer, kinds), method)


def test_signed_in_coordinator_sees_counts_and_csv(client, coordinator):
    page = client.http.get("/coordinator/subscribers", headers=coordinator["headers"])
    assert page.status_code == 200 and b"Confirmed" in page.body
    csv = client.http.get("/coordinator/subscribers.csv", headers=coordinator["headers"])
    assert csv.status_code == 200 and csv.body.startswith(b"email,first_name")


def test_post_without_csrf_token_is_refused(client, coordinator):
    response = client.http.post("/coordinator/sign-out", headers=coordinator["form_headers"], body="")
    assert response.status_code == 403


def test_bearer_token_from_json_sign_in(client, coordinator):
    from chalicelib import clock, two_factor

    without_code = client.http.post("/api/coordinator/sessions", headers=JSON,
                                    body=as_json({"email": COORDINATOR[0], "password": COORDINATOR[1]}))
    assert without_code.status_code == 400 and "code" in __import__("json").loads(without_code.body)["fields"]
    clock.advance(two_factor.STEP_SECONDS)
    response = client.http.post("/api/coordinator/sessions", headers=JSON,
                                body=as_json({"email": COORDINATOR[0], "password": COORDINATOR[1],
                                              "code": two_factor.current_code(COORDINATOR_TOTP)}))
    assert response.status_code == 201, response.body
    token = __import__("json").loads(response.body)["token"]
    counts = client.http.get("/api/coordinator/subscribers", headers={"Authorization": f"Bearer {token}"})
    assert counts.status_code == 200


def test_wrong_password_reshows_form_without_saying_which(client, coordinator):
    for email in (COORDINATOR[0], "nobody@peerpost.test"):
        response = client.http.post("/coordinator/sign-in", headers=FORM, body=form({"email": email, "password": "wrong"}))
        assert response.status_code == 400
        assert b"do not match" in response.body
        assert email.encode() in response.body


# ---------------------------------------------------------------- guessing stays slow; nobody is locked out

def sign_in_from(client_ip: str, email: str, password: str) -> dict:
    """A form sign-in as API Gateway delivers it from one client address."""
    from tests.functional.test_web import gateway

    return gateway("POST", "/coordinator/sign-in", "/coordinator/sign-in", headers=FORM, source_ip=client_ip,
                   body=form({"email": email, "password": password}))


def test_a_stranger_guessing_cannot_lock_the_owner_out(client, coordinator):
    for _ in range(30):
        sign_in_from("203.0.113.66", COORDINATOR[0], "guess")
    stranger = sign_in_from("203.0.113.66", COORDINATOR[0], "another guess")
    assert stranger["statusCode"] == 429
    owner = sign_in_from("198.51.100.20", *COORDINATOR)
    # Her password still works: she goes on to her second factor.
    assert owner["statusCode"] == 303 and owner["headers"]["Location"].startswith("/coordinator/sign-in/code")


def test_successful_sign_ins_do_not_count_towards_any_limit(client, coordinator):
    for _ in range(25):
        assert sign_in_from("198.51.100.20", *COORDINATOR)["statusCode"] == 303
    wrong = sign_in_from("198.51.100.20", COORDINATOR[0], "wrong")
    assert wrong["statusCode"] == 400 and "do not match" in wrong["body"]


def test_repeated_failures_slow_down_that_client_and_say_so_plainly(client, coordinator):
    from chalicelib import auth, clock

    for _ in range(auth.FREE_FAILURES):
        response = client.http.post("/coordinator/sign-in", headers=FORM,
                                    body=form({"email": COORDINATOR[0], "password": "wrong"}))
        assert response.status_code == 400 and b"do not match" in response.body
    for password in ("wrong", COORDINATOR[1]):  # while the delay runs, even the right password waits
        response = client.http.post("/coordinator/sign-in", headers=FORM,
                                    body=form({"email": COORDINATOR[0], "password": password}))
        assert response.status_code == 429 and response.headers["Retry-After"] == "60"
        page = response.body.decode()
        assert "Too many attempts from here; try again in 1 minute." in page and "do not match" not in page
        assert f'value="{COORDINATOR[0]}"' in page
    clock.advance(61)
    assert sign_in_from("127.0.0.1", COORDINATOR[0], "wrong")["statusCode"] == 400  # the local client, still
    response = client.http.post("/coordinator/sign-in", headers=FORM,
                                body=form({"email": COORDINATOR[0], "password": "wrong"}))
    assert response.status_code == 429 and b"try again in 2 minutes" in response.body  # progressive
    clock.advance(121)
    assert client.http.post("/coordinator/sign-in", headers=FORM, body=form(
        {"email": COORDINATOR[0], "password": COORDINATOR[1]})).status_code == 303
    for _ in range(auth.FREE_FAILURES):  # a success clears this client's run of failures
        assert client.http.post("/coordinator/sign-in", headers=FORM, body=form(
            {"email": COORDINATOR[0], "password": "wrong"})).status_code == 400


def test_one_client_trying_many_addresses_meets_a_stricter_limit(client, coordinator):
    import json

    from chalicelib import auth, clock

    for n in range(auth.CLIENT_FAILURES_PER_HOUR):
        assert sign_in_from("203.0.113.5", f"guess{n}@peerpost.test", "x")["statusCode"] == 400
    refused = client.http.post("/api/coordinator/sessions", headers=JSON,
                               body=as_json({"email": "another@peerpost.test", "password": "x"}))
    assert refused.status_code == 400  # another client: unaffected
    limited = sign_in_from("203.0.113.5", COORDINATOR[0], COORDINATOR[1])
    assert limited["statusCode"] == 429 and "Too many attempts from here; try again in" in limited["body"]
    clock.advance(3600)
    assert sign_in_from("203.0.113.5", *COORDINATOR)["statusCode"] == 303
    api = client.http.post("/api/coordinator/sessions", headers=JSON, body=as_json({"email": COORDINATOR[0], "password": "x"}))
    assert json.loads(api.body)["error"] == "Please check the form"


# ---------------------------------------------------------------- a fault is not a signed-out coordinator

def test_an_ssm_outage_is_a_503_not_session_ended(client, coordinator, monkeypatch):
    import json

    from aws_lambda_powertools.utilities import parameters

    from chalicelib import settings

    monkeypatch.setenv("PEERPOST_SIGNING_SECRET", "")
    monkeypatch.setenv("PEERPOST_SIGNING_SECRET_PARAMETER", "/peerpost/test/unreachable")  # not in SSM
    settings.reset()
    parameters.clear_caches()
    try:
        page = client.http.get("/coordinator/stories", headers=coordinator["headers"])
        assert page.status_code == 503 and b"cannot check your sign-in just now" in page.body
        assert page.headers["Content-Type"].startswith("text/html")
        api = client.http.get("/api/coordinator/subscribers", headers={"Authorization": f"Bearer {coordinator['token']}"})
        assert api.status_code == 503 and json.loads(api.body)["error"] == "PeerPost is not available just now"
    finally:
        parameters.clear_caches()


def test_a_dynamodb_fault_while_checking_a_session_is_a_503(client, coordinator, monkeypatch):
    from botocore.exceptions import ClientError

    from chalicelib import aws

    class Failing:
        def get_item(self, **kwargs):
            raise ClientError({"Error": {"Code": "InternalServerError", "Message": "boom"}}, "GetItem")

    monkeypatch.setattr(aws, "table", lambda: Failing())
    assert client.http.get("/coordinator", headers=coordinator["headers"]).status_code == 503


def test_bad_tokens_still_mean_signing_in_again(client, coordinator):
    for cookie in ("pp_session=forged", "pp_session=" + "é" * 10, "pp_session="):
        response = client.http.get("/coordinator", headers={"Cookie": cookie})
        assert response.status_code == 303 and response.headers["Location"].startswith("/coordinator/sign-in")
