"""Coordinator accounts, sign-in sessions and CSRF tokens, enforced by PeerPost itself.

API Gateway authorizers are skipped by `chalice local` and the test client, so the app checks
every coordinator request the same way in AWS, locally and in tests: a signed, expiring
session token (cookie or bearer) that must match a live session item in DynamoDB.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from http.cookies import SimpleCookie

from chalicelib import audit, aws, clock, dynamo, forms, keys, links, passwords, ratelimit, roles, tokens, two_factor
from chalicelib.errors import (Forbidden, InvalidToken, RateLimited, ServiceUnavailable, Unauthorised,
                               ValidationError)
from chalicelib.models import Field, Model
from chalicelib.signing_secret import keyed_hash, signing_secret
from chalicelib.settings import get_settings

SESSION_COOKIE = "pp_session"
PENDING_COOKIE = "pp_pending"
SIGN_IN_MODEL = Model("SignIn", (Field("email", required=True, max_length=254, format="email"),
                                 Field("password", required=True, max_length=1024),
                                 Field("code", max_length=32)))
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
PENDING_SECONDS = 10 * 60  # from a correct password to the second factor
SECOND_FACTOR_TRIES_PER_HOUR = 10


@dataclass(frozen=True)
class Coordinator:
    email: str
    name: str
    session_id: str
    id: str = ""
    roles: frozenset = frozenset()

    @property
    def csrf_token(self) -> str:
        return csrf_for(self.session_id)

    def has(self, role) -> bool:
        return roles.allows(role, self.roles)


@dataclass(frozen=True)
class SignedIn:
    """What a correct password leads to: a session, or first the second factor ("code"), or setting
    one up because a role requires it ("setup"). `token` is the session or the pending sign-in."""
    next: str
    token: str


def _email_id(email: str) -> str:
    return keyed_hash("coordinator", forms.address_key(email))


coordinator_id_for = _email_id


def create_coordinator(email: str, password: str, name: str = "", granted: tuple[str, ...] = (roles.ADMIN,),
                       totp_secret: str = "") -> str:  # nosec B107 - no secret: an empty key means none yet
    """A new coordinator account (the operator's first admin, or an accepted invitation); its id."""
    email = forms.address_key(email)
    name = name or email.split("@")[0]
    passwords.check(password, email, name)
    item = {**keys.coordinator(_email_id(email)), **keys.coordinator_index(), "email": email, "name": name,
            "roles": list(granted), **passwords.new_hash(password), "created_at": clock.iso()}
    if totp_secret:
        item.update(totp_secret=totp_secret, totp_step=-1, totp_enabled=True)
    if not dynamo.put_if_new(item):
        raise ValidationError({"email": "There is already a coordinator with this address."})
    return _email_id(email)


def get_account(coordinator_id: str) -> dict | None:
    return aws.table().get_item(Key=keys.coordinator(coordinator_id), ConsistentRead=True).get("Item")


def held_roles(item: dict) -> frozenset:
    """An account's roles. One made before roles existed was made by the operator: an admin."""
    return frozenset(item["roles"]) if "roles" in item else frozenset({roles.ADMIN})


def _delay_after(failures: int) -> int:
    if failures < FREE_FAILURES:
        return 0
    return min(60 * 2 ** (failures - FREE_FAILURES), MAX_DELAY_SECONDS)


def _too_many(seconds: int) -> RateLimited:
    minutes = max(1, -(-seconds // 60))
    return RateLimited(f"Too many attempts from here; try again in {minutes} minute{'s' if minutes != 1 else ''}.",
                       retry_after_seconds=seconds)


def sign_in(email: str, password: str, client: str) -> SignedIn:
    """What a correct email and password lead to; the same refusal for an unknown email or a wrong
    password, and RateLimited, saying when to try again, while this client must wait."""
    email = forms.address_key(email)
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
    if not passwords.matches(password, item, _DUMMY_SALT):
        ratelimit.record_failures("sign-in-failures", pair, failures + 1, FORGET_FAILURES_AFTER_SECONDS)
        audit.append("sign_in", who_id=_email_id(email), who_name=item["name"] if item else "",
                     outcome=audit.FAILED, detail="email and password did not match")
        raise refused
    ratelimit.give_back("sign-in-client", client)
    if failures:
        ratelimit.clear("sign-in-failures", pair)
    cid = keys.coordinator_id(item)
    if item.get("totp_enabled"):
        return SignedIn("code", tokens.sign(links.Purpose.SECOND_FACTOR, [cid, "code"]))
    if roles.needs_two_factor(held_roles(item)):
        return SignedIn("setup", tokens.sign(links.Purpose.SECOND_FACTOR, [cid, "setup"]))
    return SignedIn("session", _new_session(item, "password"))


def _now_ms() -> int:
    return int(clock.now().timestamp() * 1000)


def _new_session(item: dict, how: str) -> str:
    settings = get_settings()
    cid, now = keys.coordinator_id(item), clock.iso()
    session_id = secrets.token_urlsafe(24)
    aws.table().put_item(
        Item={
            **keys.session(session_id),
            **keys.session_index(cid, now, session_id),
            "coordinator_id": cid,
            "email": item["email"],
            "name": item["name"],
            "created_at": now,
            "created_ms": _now_ms(),
            "expires_at": clock.epoch() + settings.session_hours * 3600,
        }
    )
    audit.append("sign_in", who_id=cid, who_name=item["name"], detail=how)
    return tokens.sign(links.Purpose.SESSION, session_id)


def pending(token: str, wanted: str) -> dict:
    """The account a pending sign-in (password given, second factor not yet) belongs to."""
    try:
        cid, kind = tokens.verify(links.Purpose.SECOND_FACTOR, token, max_age_seconds=PENDING_SECONDS)
    except (InvalidToken, ValueError, TypeError) as exc:
        raise Unauthorised("Please sign in again: that sign-in was not finished in time.") from exc
    item = get_account(cid) if kind == wanted else None
    if not item:
        raise Unauthorised("Please sign in again: that sign-in was not finished in time.")
    return item


def second_factor(token: str, code: str, client: str) -> str:
    """A session for a pending sign-in and a correct, unused code (or recovery code)."""
    item = pending(token, "code")
    cid = keys.coordinator_id(item)
    if not ratelimit.allow("second-factor", cid, SECOND_FACTOR_TRIES_PER_HOUR):
        raise _too_many(ratelimit.seconds_left())
    how = use_code(item, code)
    if not how:
        audit.append("sign_in", who_id=cid, who_name=item["name"], outcome=audit.FAILED,
                     detail="second factor did not match")
        raise ValidationError({"code": "That code did not work. Codes change every 30 seconds: "
                                       "type the one your app shows now, or a recovery code."})
    return _new_session(item, how)


def use_code(item: dict, code: str) -> str:
    """Spend a TOTP code or a recovery code of this account: "totp", "recovery code", or "" if neither."""
    cid = keys.coordinator_id(item)
    step = two_factor.matching_step(item.get("totp_secret", ""), code, int(item.get("totp_step", -1)))
    if step is not None:
        used = dynamo.update_if(Key=keys.coordinator(cid), UpdateExpression="SET totp_step = :s",
                                ConditionExpression="attribute_not_exists(totp_step) OR totp_step < :s",
                                ExpressionAttributeValues={":s": step})
        return "totp" if used else ""
    if two_factor.looks_like_recovery_code(code):
        hashed = two_factor.recovery_hash(code)
        used = dynamo.update_if(Key=keys.coordinator(cid), UpdateExpression="DELETE recovery :h",
                                ConditionExpression="contains(recovery, :v)",
                                ExpressionAttributeValues={":h": {hashed}, ":v": hashed})
        return "recovery code" if used else ""
    return ""


def start_setup(item: dict) -> str:
    """The secret being set up for this account (made once, kept until the setup is finished)."""
    if item.get("totp_pending_secret"):
        return item["totp_pending_secret"]
    secret = two_factor.new_secret()
    aws.table().update_item(Key=keys.coordinator(keys.coordinator_id(item)),
                            UpdateExpression="SET totp_pending_secret = :s", ExpressionAttributeValues={":s": secret})
    return secret


def finish_setup(item: dict, code: str) -> list[str]:
    """Turn the second factor on once a code from the new secret is right; the recovery codes, to show once."""
    secret = item.get("totp_pending_secret", "")
    step = two_factor.matching_step(secret, code)
    if step is None:
        raise ValidationError({"code": "That code did not match. Check that your phone's clock is right, "
                                       "and type the six digits your app shows now."})
    codes = two_factor.new_recovery_codes()
    aws.table().update_item(
        Key=keys.coordinator(keys.coordinator_id(item)),
        UpdateExpression="SET totp_secret = :s, totp_step = :step, totp_enabled = :on, recovery = :r "
                         "REMOVE totp_pending_secret",
        ConditionExpression="totp_pending_secret = :s",
        ExpressionAttributeValues={":s": secret, ":step": step, ":on": True,
                                   ":r": {two_factor.recovery_hash(c) for c in codes}})
    audit.append("two_factor_on", who_id=keys.coordinator_id(item), who_name=item["name"])
    return codes


def turn_off_two_factor(coordinator_id: str) -> None:
    item = get_account(coordinator_id)
    aws.table().update_item(Key=keys.coordinator(coordinator_id),
                            UpdateExpression="REMOVE totp_secret, totp_step, totp_enabled, recovery, totp_pending_secret",
                            ConditionExpression="attribute_exists(PK)")
    audit.append("two_factor_off", who_id=coordinator_id, who_name=item["name"] if item else "")


def finish_setup_and_sign_in(token: str, code: str) -> tuple[str, list[str]]:
    item = pending(token, "setup")
    codes = finish_setup(item, code)
    return _new_session(item, "password and new second factor"), codes


def authenticate(token: str) -> Coordinator:
    """The coordinator a session token belongs to. Unauthorised only for a token that is bad, expired,
    forged or signed out, or whose account was removed or signed out everywhere; a fault in what the
    check needs (SSM, DynamoDB) is ServiceUnavailable."""
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
    from botocore.exceptions import BotoCoreError, ClientError

    settings = get_settings()
    if not token or not token.isascii():
        raise Unauthorised(_SESSION_ENDED)  # every token we sign is ASCII
    try:
        session_id = tokens.verify(links.Purpose.SESSION, token, max_age_seconds=settings.session_hours * 3600)
        item = aws.table().get_item(Key=keys.session(session_id)).get("Item")
        account = None
        if item:
            account = get_account(item.get("coordinator_id") or _email_id(item["email"]))
    except InvalidToken as exc:
        raise Unauthorised(_SESSION_ENDED) from exc
    except (GetParameterError, ClientError, BotoCoreError) as exc:
        from chalicelib.observability import logger

        logger().error("session check failed", extra={"error": type(exc).__name__})
        raise ServiceUnavailable("PeerPost cannot check your sign-in just now. Nothing has changed. "
                                 "Please try again in a few minutes.") from exc
    if not item or not account or int(item["expires_at"]) < clock.epoch():
        raise Unauthorised(_SESSION_ENDED)
    if int(item.get("created_ms", 0)) < int(account.get("sessions_valid_after_ms", 0)):
        raise Unauthorised(_SESSION_ENDED)
    return Coordinator(email=account["email"], name=account["name"], session_id=session_id,
                       id=keys.coordinator_id(account), roles=held_roles(account))


def sessions(coordinator_id: str) -> list[dict]:
    """A coordinator's live sessions, newest first."""
    from boto3.dynamodb.conditions import Key

    page = aws.table().query(IndexName="GSI1", KeyConditionExpression=Key("GSI1PK").eq(keys.sessions_of(coordinator_id)),
                             ScanIndexForward=False)
    now = clock.epoch()
    return [{"session_id": keys.session_id(item), "created_at": item["created_at"],
             "ends_at": clock.iso(datetime.fromtimestamp(int(item["expires_at"]), timezone.utc))}
            for item in page.get("Items", []) if int(item["expires_at"]) >= now]


def end_sessions(coordinator_id: str, keep: str = "") -> int:
    """Sign a coordinator out everywhere (but the session `keep`). Without `keep` it is at once and
    complete: sessions made before now stop working even if the index has not caught up."""
    if not keep:
        aws.table().update_item(Key=keys.coordinator(coordinator_id), UpdateExpression="SET sessions_valid_after_ms = :t",
                                ConditionExpression="attribute_exists(PK)",
                                ExpressionAttributeValues={":t": _now_ms()})
    ended = 0
    for session in sessions(coordinator_id):
        if session["session_id"] != keep:
            aws.table().delete_item(Key=keys.session(session["session_id"]))
            ended += 1
    return ended


def sign_out(coordinator: Coordinator) -> None:
    aws.table().delete_item(Key=keys.session(coordinator.session_id))


def token_from_request(request) -> str:
    header = request.headers.get("authorization") or ""
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return cookie_value(request, SESSION_COOKIE)


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


def pending_cookie(token: str) -> str:
    secure = "; Secure" if get_settings().secure_cookies else ""
    return (f"{PENDING_COOKIE}={token}; Path=/coordinator/sign-in; HttpOnly; SameSite=Strict; "
            f"Max-Age={PENDING_SECONDS}{secure}")


def clear_pending_cookie() -> str:
    return f"{PENDING_COOKIE}=; Path=/coordinator/sign-in; HttpOnly; SameSite=Strict; Max-Age=0"


def cookie_value(request, name: str) -> str:
    cookie = SimpleCookie()
    try:
        cookie.load(request.headers.get("cookie") or "")
    except Exception:  # nosec B110
        return ""  # a mangled cookie header is simply no credential
    morsel = cookie.get(name)
    return morsel.value if morsel else ""


def clear_cookie() -> str:
    return f"{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"
