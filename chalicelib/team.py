"""The coordinators' team: who is in it, with which roles; invitations; password resets; removal.

An invitation is a signed link (7 days) naming an invitation item; accepting deletes the item under a
condition, so a link works once. A reset link names the account and a nonce kept on it, used up when
the new password is set (and a newer request replaces it). Removing a coordinator deletes the account:
their sessions fail at once, since every request reads the account (chalicelib.auth.authenticate).
"""
from __future__ import annotations

import secrets
from datetime import timedelta

from chalicelib import audit, auth, aws, clock, dynamo, emails, forms, keys, links, passwords, ratelimit, roles, tokens
from chalicelib.errors import Conflict, ExpiredToken, InvalidToken, NotFound, ValidationError
from chalicelib.forms import clean_line
from chalicelib.settings import get_settings

INVITATION_DAYS = 7
RESET_SECONDS = 3600
RESETS_PER_CLIENT_PER_HOUR = 10
RESETS_PER_ADDRESS_PER_HOUR = 3
_USED = ("This invitation was already used or withdrawn. If you set your password, sign in; otherwise ask an "
         "admin of your network to invite you again.")
_RESET_USED = "This reset link was already used, or a newer one was sent. Ask for a new link if you need one."


def members() -> list[dict]:
    from boto3.dynamodb.conditions import Key

    page = aws.table().query(IndexName="GSI1", KeyConditionExpression=Key("GSI1PK").eq(keys.coordinator_index()["GSI1PK"]))
    people = [{"id": keys.coordinator_id(item), "name": item["name"], "email": item["email"],
               "roles": [r for r in roles.ALL if r in auth.held_roles(item)],
               "two_factor": bool(item.get("totp_enabled")), "created_at": item.get("created_at", "")}
              for item in page.get("Items", [])]
    return sorted(people, key=lambda person: person["name"].casefold())


def holders(role: str) -> list[dict]:
    """Everyone holding `role` (who is told when a story needs them, who gets a second alert)."""
    return [person for person in members() if role in person["roles"]]


def _role_words(granted) -> str:
    names = [roles.label(r).lower() for r in granted]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def invite(by, email: str, name: str, granted) -> str:
    """Invite a person by email with these roles; the invitation's id."""
    errors = {}
    try:
        email = forms.address_key(forms.email_address(email))
    except ValidationError:
        errors["email"] = "Enter their email address, like name@example.org."
    name = clean_line(name)[:80]
    if not name:
        errors["name"] = "Enter the name they go by, as the team will see it."
    granted = roles.clean(granted)
    if not granted:
        errors["roles"] = "Choose at least one role."
    if errors:
        raise ValidationError(errors)
    if auth.get_account(auth.coordinator_id_for(email)):
        raise ValidationError({"email": "This person is already a coordinator. Change their roles below."})
    if any(pending["email"] == email for pending in invitations()):
        raise ValidationError({"email": "This person already has an invitation waiting. Withdraw it to send a new one."})
    invitation_id, now = secrets.token_urlsafe(16), clock.now()
    expires = now + timedelta(days=INVITATION_DAYS)
    aws.table().put_item(Item={
        **keys.invitation(invitation_id), **keys.invitation_index(clock.iso(now), invitation_id),
        "email": email, "name": name, "roles": granted, "invited_by": by.id, "invited_by_name": by.name,
        "created_at": clock.iso(now), "expires_at": int(expires.timestamp()),
    })
    settings = get_settings()
    emails.send(email, "coordinator_invitation", f"Join the coordinators of {settings.organisation_name}",
                purpose="coordinator-invitation", person_name=name, invited_by=by.name, role_words=_role_words(granted),
                organisation=settings.organisation_name, expires=clock.in_london(expires).strftime("%-d %B %Y"),
                accept_url=links.invitation(invitation_id))
    audit.about("invitation", invitation_id)
    return invitation_id


def invitations() -> list[dict]:
    from boto3.dynamodb.conditions import Key

    page = aws.table().query(IndexName="GSI1", KeyConditionExpression=Key("GSI1PK").eq(keys.invitations_index()),
                             ScanIndexForward=False)
    now = clock.epoch()
    return [{"id": keys.invitation_id(item), "email": item["email"], "name": item["name"], "roles": item["roles"],
             "invited_by_name": item["invited_by_name"], "created_at": item["created_at"],
             "expires_at": int(item["expires_at"])}
            for item in page.get("Items", []) if int(item["expires_at"]) > now]


def withdraw(invitation_id: str) -> None:
    aws.table().delete_item(Key=keys.invitation(invitation_id))


def invitation_for(token: str) -> dict:
    """The invitation a link names; a clear error for one that is changed, expired, used or withdrawn."""
    invitation_id = tokens.verify(links.Purpose.INVITE, token, max_age_seconds=INVITATION_DAYS * 86400)
    item = aws.table().get_item(Key=keys.invitation(str(invitation_id)), ConsistentRead=True).get("Item")
    if not item:
        raise InvalidToken(_USED)
    if int(item["expires_at"]) < clock.epoch():
        raise ExpiredToken("This invitation has expired. Ask an admin of your network to invite you again.")
    return item


def _check_new_password(item: dict, password: str, confirm: str) -> None:
    passwords.check(password, item["email"], item["name"])
    if password != confirm:
        raise ValidationError({"confirm": "The two passwords are not the same. Type the password again."})


def accept(token: str, password: str, confirm: str) -> str:
    """Set the password an invitation asks for: the account exists from now; its id."""
    item = invitation_for(token)
    _check_new_password(item, password, confirm)
    # used up first, under a condition: two tabs pressing "Accept" make one account
    if not dynamo.delete_if(Key=keys.invitation(keys.invitation_id(item)), ConditionExpression="attribute_exists(PK)"):
        raise InvalidToken(_USED)
    cid = auth.create_coordinator(item["email"], password, name=item["name"], granted=tuple(item["roles"]))
    audit.append("accept_invitation", who_id=cid, who_name=item["name"],
                 record={"invitation": keys.invitation_id(item)})
    return cid


def _admins_left(without: str, granted_to_them=()) -> int:
    return sum(1 for person in members()
               if (roles.ADMIN in (granted_to_them if person["id"] == without else person["roles"])))


def set_roles(by, coordinator_id: str, granted) -> None:
    granted = roles.clean(granted)
    if not auth.get_account(coordinator_id):
        raise NotFound("There is no such coordinator.")
    if not granted:
        raise ValidationError({"roles": "Choose at least one role, or remove the coordinator instead."})
    if _admins_left(coordinator_id, granted) == 0:
        raise Conflict("PeerPost needs at least one admin. Make someone else an admin first.")
    aws.table().update_item(Key=keys.coordinator(coordinator_id), UpdateExpression="SET #r = :r",
                            ConditionExpression="attribute_exists(PK)",
                            ExpressionAttributeNames={"#r": "roles"}, ExpressionAttributeValues={":r": granted})


def remove(by, coordinator_id: str) -> None:
    """Delete a coordinator's account; their sessions end at once."""
    if coordinator_id == by.id:
        raise Conflict("You cannot remove yourself. Another admin can.")
    if not auth.get_account(coordinator_id):
        raise NotFound("There is no such coordinator.")
    if _admins_left(coordinator_id, ()) == 0:
        raise Conflict("PeerPost needs at least one admin. Make someone else an admin first.")
    aws.table().delete_item(Key=keys.coordinator(coordinator_id))
    for session in auth.sessions(coordinator_id):
        aws.table().delete_item(Key=keys.session(session["session_id"]))


def request_reset(email: str, client: str) -> None:
    """Email a reset link if the address is a coordinator's. The caller is told the same either way."""
    email = forms.address_key(email)  # as sign-in takes it: the account's address is already checked
    if "@" not in email or len(email) > 254 or not email.isprintable():
        raise ValidationError({"email": "Enter the email address you sign in with, like name@example.org."})
    ratelimit.enforce("reset-client", client, RESETS_PER_CLIENT_PER_HOUR)
    cid = auth.coordinator_id_for(email)
    if not ratelimit.allow("reset-address", cid, RESETS_PER_ADDRESS_PER_HOUR):
        return  # quietly: the owner already has links waiting
    item = auth.get_account(cid)
    if not item:
        return
    nonce = secrets.token_urlsafe(12)
    aws.table().update_item(Key=keys.coordinator(cid), UpdateExpression="SET reset_nonce = :n",
                            ConditionExpression="attribute_exists(PK)", ExpressionAttributeValues={":n": nonce})
    emails.send(item["email"], "password_reset", "Choose a new PeerPost password", purpose="password-reset",
                person_name=item["name"], reset_url=links.password_reset([cid, nonce]))
    audit.append("request_password_reset", who_id=cid, who_name=item["name"])


def reset_account(token: str) -> dict:
    try:
        cid, nonce = tokens.verify(links.Purpose.RESET, token, max_age_seconds=RESET_SECONDS)
    except ExpiredToken as exc:
        raise ExpiredToken("This reset link has expired: they work for one hour. Ask for a new one.") from exc
    except (ValueError, TypeError) as exc:
        raise InvalidToken() from exc
    item = auth.get_account(str(cid))
    if not item or item.get("reset_nonce") != nonce:
        raise InvalidToken(_RESET_USED)
    return item


def reset_password(token: str, password: str, confirm: str) -> None:
    item = reset_account(token)
    _check_new_password(item, password, confirm)
    cid, stored = keys.coordinator_id(item), passwords.new_hash(password)
    if not dynamo.update_if(
        Key=keys.coordinator(cid),
        UpdateExpression="SET salt = :salt, password_hash = :hash REMOVE reset_nonce",
        ConditionExpression="reset_nonce = :n",
        ExpressionAttributeValues={":n": item["reset_nonce"], ":salt": stored["salt"],
                                   ":hash": stored["password_hash"]}):
        raise InvalidToken(_RESET_USED)
    auth.end_sessions(cid)
    audit.append("reset_password", who_id=cid, who_name=item["name"])
