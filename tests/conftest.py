"""Fixtures compose: aws (moto) -> tables (from infra/) -> outbox (SES) -> client (chalice test client)."""
from __future__ import annotations

import json
import os
from email import message_from_bytes, policy

import pytest

os.environ.update({
    "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "eu-west-2", "AWS_REGION": "eu-west-2",
    "PEERPOST_STAGE": "test", "PEERPOST_SIGNING_SECRET": "test-secret-not-for-production",
    "PEERPOST_PUBLIC_BASE_URL": "https://peerpost.test",
    "POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_SERVICE_NAME": "peerpost",
    # One copy at a time: moto in-process is not thread-safe (a transaction copies the table while another
    # thread writes). Tests of copies in flight together raise it; the send harness runs it as deployed.
    "PEERPOST_SEND_IN_FLIGHT": "1",
})
os.environ.pop("AWS_ENDPOINT_URL", None)

# Hypothesis draws the same examples on every run unless told otherwise (HYPOTHESIS_PROFILE=explore
# looks further, with a fresh seed each time), so CI on a busy machine is deterministic.
from hypothesis import settings as _hypothesis  # noqa: E402

_hypothesis.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
_hypothesis.register_profile("explore", deadline=None, max_examples=500)
_hypothesis.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

REGION = "eu-west-2"
pytest_plugins = ["tests.pii_log_guard"]  # no address, name or story text in any log line


def pytest_collection_modifyitems(items):
    """Mark what `make test-fast` leaves out: tests of a running local server or subprocess ("live")
    and tests of the built Lambda package ("package"), found by the fixtures and files they use."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & {"package", "sam"}:
            item.add_marker(pytest.mark.package)
        if fixtures & {"peerpost"} or item.path.name in {"test_local_data.py", "test_send_harness.py"}:
            item.add_marker(pytest.mark.live)


@pytest.fixture(autouse=True)
def _fresh_state():
    from chalicelib import aws, clock, issue_rendering, mail, settings

    def reset():
        settings.reset()
        aws.reset()
        clock.reset()
        mail.use_sender(None)
        issue_rendering.prepared.cache_clear()  # module-level state: prepared messages, consent checks
        issue_rendering.consent_watch.reset()

    reset()
    yield
    reset()


@pytest.fixture
def aws_mock():
    from moto import mock_aws

    with mock_aws():
        yield


@pytest.fixture
def tables(aws_mock):
    import boto3

    from localdev import stack

    return stack.create_all(boto3.session.Session(region_name=REGION))


class Outbox:
    """What moto's SES accepted, parsed strictly as a mail client would."""

    def raw(self) -> list[bytes]:
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.ses.models import ses_backends

        sent = ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages
        return [m.raw_data.encode() if isinstance(m.raw_data, str) else m.raw_data for m in sent]

    def messages(self):
        parsed = []
        for raw in self.raw():
            message = message_from_bytes(raw, policy=policy.strict)
            assert not message.defects, message.defects
            for part in message.walk():
                assert not part.defects, part.defects
            parsed.append(message)
        return parsed

    def to(self, address: str):
        return [m for m in self.messages() if address in str(m["To"])]

    def clear(self) -> None:
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.ses.models import ses_backends

        ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages.clear()


def text_of(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def html_of(message) -> str:
    return message.get_body(preferencelist=("html",)).get_content()


@pytest.fixture
def outbox(tables):
    box = Outbox()
    box.clear()
    return box


@pytest.fixture
def client(outbox):
    from chalice.test import Client

    from app import app

    with Client(app) as test_client:
        yield test_client


def process_signups() -> int:
    """Run the signups queue's handler over what web requests queued, as Lambda would; returns how many."""
    import boto3
    from chalice.app import SQSEventConfig

    from app import app
    from localdev.runner import Runner

    runner = Runner(app, boto3.session.Session(region_name="eu-west-2"))
    [config] = [c for c in app.event_sources if isinstance(c, SQSEventConfig) and c.name == "process_signups"]
    total = 0
    while done := runner.drain(config, wait_seconds=0):
        total += done
    return total


FORM = {"Content-Type": "application/x-www-form-urlencoded"}
JSON = {"Content-Type": "application/json"}


def form(data: dict) -> str:
    from urllib.parse import urlencode

    return urlencode(data, doseq=True)


def as_json(data: dict) -> str:
    return json.dumps(data)


COORDINATOR = ("zoe@peerpost.test", "correct horse battery staple")
# The coordinator paths a person reaches signed out: signing in (and its second step), accepting an
# invitation, resetting a password. Every other /coordinator path needs a session (tests walk them all).
OPEN_COORDINATOR_PATHS = frozenset({
    "/coordinator/sign-in", "/api/coordinator/sessions", "/coordinator/sign-in/code",
    "/coordinator/sign-in/two-factor", "/coordinator/invitation", "/coordinator/reset", "/coordinator/reset/new"})
# The fixture coordinator's authenticator secret (base32): she holds every role, and admins need two factors.
COORDINATOR_TOTP = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def cookie_of(response, name: str) -> str:
    """`name=value` of a cookie a response sets (Set-Cookie may come as several headers)."""
    raw = response.headers.get("Set-Cookie") or response.headers.get("set-cookie") or ""
    for part in (raw if isinstance(raw, list) else raw.split(", pp_")):
        part = part if part.startswith("pp_") else "pp_" + part
        if part.startswith(name + "="):
            return part.split(";")[0]
    raise AssertionError(f"no {name} cookie in {raw!r}")


def sign_in_http(client, email: str, password: str, totp_secret: str = "") -> dict:
    """Sign in through the routes (password, then the code if the account has a second factor)."""
    from chalicelib import auth, clock, two_factor

    response = client.http.post("/coordinator/sign-in", headers=FORM, body=form({"email": email, "password": password}))
    assert response.status_code == 303, response.body
    if "/sign-in/code" in response.headers["Location"]:
        pending = cookie_of(response, "pp_pending")
        clock.advance(two_factor.STEP_SECONDS)  # a code of a step not used yet (each works once)
        response = client.http.post("/coordinator/sign-in/code", headers={**FORM, "Cookie": pending},
                                    body=form({"code": two_factor.current_code(totp_secret)}))
        assert response.status_code == 303, response.body
    cookie = cookie_of(response, "pp_session")
    token = cookie.split("=", 1)[1]
    session = auth.authenticate(token)
    return {"headers": {"Cookie": cookie}, "form_headers": {"Cookie": cookie, **FORM},
            "csrf": session.csrf_token, "token": token, "id": session.id}


@pytest.fixture
def coordinator(client):
    """A signed-in coordinator with every role: headers for pages (cookie) and the CSRF token for forms."""
    from chalicelib import auth, roles

    auth.create_coordinator(*COORDINATOR, name="Zoe", granted=roles.ALL, totp_secret=COORDINATOR_TOTP)
    return sign_in_http(client, *COORDINATOR, totp_secret=COORDINATOR_TOTP)
