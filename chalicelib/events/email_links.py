"""The signed links in attendees' emails (confirm a request, manage a registration, answer an offer),
and reading them back into the event and registration they are for."""
from __future__ import annotations

from chalicelib import clock, links, tokens
from chalicelib.errors import InvalidToken, NotFound
from chalicelib.events import rules, store
from chalicelib.links import Purpose

_CHANGED = "This link is incomplete or has been changed. Please use the link from your email."
_GONE = "We could not find this registration. It may have ended, or the details were deleted after the event."
REQUEST_GONE = ("We could not find this request. It may have expired; you can register again from the "
                 "event page.")


def _confirm_payload(reg: dict) -> list:
    return [reg["event_id"], reg["registration_id"], reg["request_nonce"]]


def _manage_payload(reg: dict) -> list:
    return [reg["event_id"], reg["registration_id"], int(reg["arrival"])]


def _offer_payload(reg: dict) -> list:
    return [*_manage_payload(reg), reg["offer_expires_at"]]


def manage_token(reg: dict) -> str:
    return tokens.sign(Purpose.EVENT_REGISTRATION, _manage_payload(reg))


def offer_token(reg: dict) -> str:
    return tokens.sign(Purpose.EVENT_OFFER, _offer_payload(reg))


def urls(reg: dict) -> dict[str, str]:
    """The links an email to this registration carries, by the names the template uses."""
    if reg["status"] == rules.PENDING:
        return {"confirm_url": links.event_confirm(_confirm_payload(reg)), "manage_url": ""}
    found = {"manage_url": links.event_registration(_manage_payload(reg))}
    if reg["status"] == "offered":
        found["offer_url"] = links.event_offer(_offer_payload(reg))
    return found


def from_confirm_token(token: str) -> tuple[dict, dict]:
    """The event and the registration a confirmation link is for (pending, or already confirmed by it)."""
    payload = tokens.verify(Purpose.EVENT_CONFIRM, token, max_age_seconds=rules.PENDING_HOURS * 3600)
    if not isinstance(payload, list) or len(payload) != 3:
        raise InvalidToken(_CHANGED)
    event = store.get(str(payload[0]))
    reg = store.get_registration(str(payload[0]), str(payload[1])) if event else None
    if not event or not reg or reg.get("request_nonce") != payload[2] or reg.get("anonymised_at"):
        raise NotFound(REQUEST_GONE)
    return event, reg


def _from_token(purpose: Purpose, token: str) -> tuple[dict, dict, list]:
    payload = tokens.verify(purpose, token)
    if not isinstance(payload, list) or len(payload) < 3:
        raise InvalidToken(_CHANGED)
    event = store.get(str(payload[0]))
    reg = store.get_registration(str(payload[0]), str(payload[1])) if event else None
    if not event or not reg or int(reg.get("arrival", -1)) != int(payload[2]) or reg.get("anonymised_at"):
        raise NotFound(_GONE)
    return event, reg, payload


def from_manage_token(token: str) -> tuple[dict, dict]:
    event, reg, _ = _from_token(Purpose.EVENT_REGISTRATION, token)
    return event, reg


def from_offer_token(token: str) -> tuple[dict, dict, str]:
    """The event, the registration and what the offer is now: open, accepted, expired or gone."""
    event, reg, payload = _from_token(Purpose.EVENT_OFFER, token)
    offer_expiry = str(payload[3]) if len(payload) > 3 else ""
    if reg["status"] == "offered" and reg.get("offer_expires_at") == offer_expiry:
        if clock.parse_iso(offer_expiry) <= clock.now():
            return event, reg, "expired"
        if rules.status(event) != "scheduled":
            return event, reg, "closed"
        return event, reg, "open"
    if reg["status"] == "confirmed" and reg.get("accepted_offer") == offer_expiry:
        return event, reg, "accepted"
    if reg["status"] in ("expired", "declined", "withdrawn") and reg.get("offer_expires_at") == offer_expiry:
        return event, reg, reg["status"]
    return event, reg, "gone"
