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
from chalicelib.errors import Forbidden, Unauthorised, ValidationError
from chalicelib.models import Field, Model
from chalicelib.secrets import keyed_hash, signing_secret
from chalicelib.settings import get_settings

SESSION_COOKIE = "pp_session"
SIGN_IN_MODEL = Model("SignIn", (Field("email", required=True, max_length=254, format="email"),
                                 Field("password", required=True, max_length=1024)))
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}
_DUMMY_SALT = b"peerpost-dummy-salt"


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


def sign_in(email: str, password: str, client: str) -> str:
    """A session token for valid credentials; the same refusal for an unknown email or wrong password."""
    settings = get_settings()
    ratelimit.enforce("sign-in-client", client, 30)
    email = (email or "").strip().lower()
    refused = ValidationError({"email": "That email and password do not match a coordinator account."})
    if not email or not password:
        raise refused
    if not ratelimit.allow("sign-in-address", email, 10):
        raise refused
    item = aws.table().get_item(Key=keys.coordinator(_email_id(email))).get("Item")
    salt = bytes.fromhex(item["salt"]) if item else _DUMMY_SALT
    attempt = _hash_password(password, salt)  # computed either way: timing says nothing
    if not item or not hmac.compare_digest(attempt, item["password_hash"]):
        raise refused
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
    settings = get_settings()
    try:
        session_id = tokens.verify("session", token, max_age_seconds=settings.session_hours * 3600)
    except Exception as exc:
        raise Unauthorised("Your session has ended. Please sign in again.") from exc
    item = aws.table().get_item(Key=keys.session(session_id)).get("Item")
    if not item or int(item["expires_at"]) < clock.epoch():
        raise Unauthorised("Your session has ended. Please sign in again.")
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
