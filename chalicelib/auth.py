"""Coordinator accounts, sign-in sessions and CSRF tokens, enforced by PeerPost itself.

API Gateway authorizers are skipped by `chalice local` and the test client, so the app checks
every coordinator request the same way in AWS, locally and in tests: a signed, expiring
session token (cookie or bearer) that must match a live session item in DynamoDB.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets as pysecrets
from dataclasses import dataclass
from http.cookies import SimpleCookie

from chalicelib import aws, clock, keys, ratelimit, tokens
from chalicelib.errors import (Forbidden, InvalidToken, RateLimited, ServiceUnavailable, Unauthorised,
                               ValidationError)
from chalicelib.models import Field, Model
from chalicelib.secrets import keyed_hash, signing_secret
from chalicelib.settings import get_settings

SESSION_COOKIE = "pp_session"
SIGN_IN_MODEL = Model("SignIn", (Field("email", required=True, max_length=254, format="email"),
                                 Field("password", required=True, max_length=1024)))
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}
_DUMMY_SALT = b"peerpost-dummy-salt"
_SESSION_ENDED = "Your session has ended. Please sign in again."

# Guessing stays slow, but a stranger cannot lock the owner out: failures are counted per address *and*
# client, so they slow down only whoever makes them, and a correct password clears that client's run.
# After FREE_FAILURES in a row, each further try from there waits 1, 2, 4, 8, then 15 minutes. Any one
# client may also fail at most CLIENT_FAILURES_PER_HOUR times an hour, over all addresses (spraying).
FREE_FAILURES = 5
MAX_DELAY_SECONDS = 15 * 60
CLIENT_FAILURES_PER_HOUR = 20
FORGET_FAILURES_AFTER_SECONDS = 24 * 3600


@dataclass(frozen=True)
class Coordinator:
    email: str
    name: str
    session_id: str

    @property
    def csrf_token(self) -> str:
        return csrf_for(self.session_id)


def _hash_password(password: str, salt: bytes) -> str:
    return hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT).hex()


def _email_id(email: str) -> str:
    return keyed_hash("coordinator", email.strip().lower())


def create_coordinator(email: str, password: str, name: str = "") -> None:
    if len(password) < 10:
        # An error message keyed by field name, not a password.
        raise ValidationError({"password": "Use at least 10 characters."})  # nosec B105
    salt = pysecrets.token_bytes(16)
    aws.table().put_item(
        Item={
            **keys.coordinator(_email_id(email)),
            **keys.coordinator_index(),
            "email": email.strip().lower(),
            "name": name or email.split("@")[0],
            "salt": salt.hex(),
            "password_hash": _hash_password(password, salt),
            "created_at": clock.iso(),
        }
    )


def _delay_after(failures: int) -> int:
    if failures < FREE_FAILURES:
        return 0
    return min(60 * 2 ** (failures - FREE_FAILURES), MAX_DELAY_SECONDS)


def _too_many(seconds: int) -> RateLimited:
    minutes = max(1, -(-seconds // 60))
    return RateLimited(f"Too many attempts from here; try again in {minutes} minute{'s' if minutes != 1 else ''}.",
                       retry_after_seconds=seconds)


def sign_in(email: str, password: str, client: str) -> str:
    """A session token for valid credentials; the same refusal for an unknown email or wrong password,
    and RateLimited, saying when to try again, while this client must wait."""
    settings = get_settings()
    email = (email or "").strip().lower()
    refused = ValidationError({"email": "That email and password do not match a coordinator account."})
    if not email or not password:
        raise refused
    pair = f"{email}\n{client}"
    failures, last_at = ratelimit.failures("sign-in-failures", pair)
    wait = last_at + _delay_after(failures) - clock.epoch()
    if wait > 0:
        raise _too_many(wait)
    # Counted before the check (so parallel guesses cannot overtake it), given back if it succeeds.
    if not ratelimit.allow("sign-in-client", client, CLIENT_FAILURES_PER_HOUR):
        raise _too_many(ratelimit.seconds_left())
    item = aws.table().get_item(Key=keys.coordinator(_email_id(email))).get("Item")
    salt = bytes.fromhex(item["salt"]) if item else _DUMMY_SALT
    attempt = _hash_password(password, salt)  # computed either way: timing says nothing
    if not item or not hmac.compare_digest(attempt, item["password_hash"]):
        ratelimit.record_failures("sign-in-failures", pair, failures + 1, FORGET_FAILURES_AFTER_SECONDS)
        raise refused
    ratelimit.give_back("sign-in-client", client)
    if failures:
        ratelimit.clear("sign-in-failures", pair)
    session_id = pysecrets.token_urlsafe(24)
    aws.table().put_item(
        Item={
            **keys.session(session_id),
            "email": item["email"],
            "name": item["name"],
            "created_at": clock.iso(),
            "expires_at": clock.epoch() + settings.session_hours * 3600,
        }
    )
    return tokens.sign("session", session_id)


def authenticate(token: str) -> Coordinator:
    """The coordinator a session token belongs to. Unauthorised only for a token that is bad, expired,
    forged or signed out; a fault in what the check needs (SSM, DynamoDB) is ServiceUnavailable."""
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
    from botocore.exceptions import BotoCoreError, ClientError

    settings = get_settings()
    if not token or not token.isascii():
        raise Unauthorised(_SESSION_ENDED)  # every token we sign is ASCII
    try:
        session_id = tokens.verify("session", token, max_age_seconds=settings.session_hours * 3600)
        item = aws.table().get_item(Key=keys.session(session_id)).get("Item")
    except InvalidToken as exc:
        raise Unauthorised(_SESSION_ENDED) from exc
    except (GetParameterError, ClientError, BotoCoreError) as exc:
        from chalicelib.observability import logger

        logger().error("session check failed", extra={"error": type(exc).__name__})
        raise ServiceUnavailable("PeerPost cannot check your sign-in just now. Nothing has changed. "
                                 "Please try again in a few minutes.") from exc
    if not item or int(item["expires_at"]) < clock.epoch():
        raise Unauthorised(_SESSION_ENDED)
    return Coordinator(email=item["email"], name=item["name"], session_id=session_id)


def sign_out(coordinator: Coordinator) -> None:
    aws.table().delete_item(Key=keys.session(coordinator.session_id))


def token_from_request(request) -> str:
    header = request.headers.get("authorization") or ""
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    cookie = SimpleCookie()
    try:
        cookie.load(request.headers.get("cookie") or "")
    except Exception:  # nosec B110
        return ""  # a mangled cookie header is simply no credential
    morsel = cookie.get(SESSION_COOKIE)
    return morsel.value if morsel else ""


def csrf_for(session_id: str) -> str:
    return hmac.new(signing_secret().encode(), f"csrf:{session_id}".encode(), hashlib.sha256).hexdigest()


def check_csrf(coordinator: Coordinator, submitted: str) -> None:
    if not hmac.compare_digest(coordinator.csrf_token, submitted or ""):
        raise Forbidden("This form has expired or did not come from PeerPost. Please go back, reload and try again.")


def session_cookie(token: str) -> str:
    settings = get_settings()
    secure = "; Secure" if settings.secure_cookies else ""
    return (f"{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; "
            f"Max-Age={settings.session_hours * 3600}{secure}")


def clear_cookie() -> str:
    return f"{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"
