"""Every public URL PeerPost puts in an email or a page, and every purpose a signed token is bound to.

A token signed for one purpose never verifies for another (tokens.py salts by purpose), so the
purposes are one enumeration here rather than strings typed in each capability. Payloads are ids,
never an address.
"""
from __future__ import annotations

from enum import StrEnum

from chalicelib import tokens
from chalicelib.settings import get_settings


class Purpose(StrEnum):
    # subscribers
    CONFIRM = "confirm"
    PREFERENCES = "preferences"
    UNSUBSCRIBE = "unsubscribe"
    # contributors
    STORY_CONTRIBUTOR = "story-contributor"
    # attendees
    EVENT_CONFIRM = "event-confirm"
    EVENT_REGISTRATION = "event-registration"
    EVENT_OFFER = "event-offer"
    # coordinators
    INVITE = "invite"
    RESET = "reset"
    SESSION = "session"
    SECOND_FACTOR = "second-factor"
    SUBSCRIBERS_PAGE = "subscribers-page"
    SUPPRESSIONS_PAGE = "suppressions-page"


def absolute(path: str) -> str:
    """A path of the public site as a full URL (PEERPOST_PUBLIC_BASE_URL in front)."""
    return get_settings().public_base_url + path


def _signed(path: str, purpose: Purpose, payload) -> str:
    return absolute(path + tokens.sign(purpose, payload))


# ---------------------------------------------------------------- subscribers

def subscribe() -> str:
    return absolute("/subscribe")


def confirm(payload) -> str:
    return _signed("/confirm/", Purpose.CONFIRM, payload)


def preferences(payload) -> str:
    return _signed("/preferences/", Purpose.PREFERENCES, payload)


def unsubscribe(subscriber_id: str) -> str:
    return _signed("/unsubscribe/", Purpose.UNSUBSCRIBE, subscriber_id)


def archive(path: str) -> str:
    """An issue in the public archive; `path` is issues.archive_path(issue)."""
    return absolute(path)


# ---------------------------------------------------------------- contributors

def contributor(story_id: str) -> str:
    return _signed("/stories/mine/", Purpose.STORY_CONTRIBUTOR, story_id)


# ---------------------------------------------------------------- attendees

def event(event_id: str) -> str:
    return absolute(f"/events/{event_id}")


def event_confirm(payload) -> str:
    return _signed("/events/confirm/", Purpose.EVENT_CONFIRM, payload)


def event_registration(payload) -> str:
    return _signed("/events/registration/", Purpose.EVENT_REGISTRATION, payload)


def event_offer(payload) -> str:
    return _signed("/events/offer/", Purpose.EVENT_OFFER, payload)


# ---------------------------------------------------------------- coordinators

def coordinator_story(story_id: str) -> str:
    return absolute(f"/coordinator/stories/{story_id}")


def invitation(invitation_id: str) -> str:
    return _signed("/coordinator/invitation?token=", Purpose.INVITE, invitation_id)


def password_reset(payload) -> str:
    return _signed("/coordinator/reset/new?token=", Purpose.RESET, payload)
