"""Events: "Dates for the diary", registration, a first-come-first-served waiting list with offers,
reminders, change and cancellation notices, and anonymisation after the event.

What other modules use, by the names they use. Where each part lives:
  rules        status, Availability (what someone arriving can do) and its labels: pure functions
  forms        the event and registration forms, EVENT_MODEL
  store        event and registration items: reads, queries, transaction items, single writes
  diary        when and where an event is, the newsletter's diary
  email_links  the signed links in attendees' emails, and reading them back
  notices      emails to attendees, SUBJECTS, calendar files
  places       registering, the waiting list, offers, places given back
  editing      creating, editing and cancelling an event
  sweeps       scheduled work: expired offers, reminders, anonymisation
  export       the registrations CSV and an event's counts
"""
from __future__ import annotations

from chalicelib import links
from chalicelib.events.diary import DiaryEntry, diary, when, where
from chalicelib.events.editing import Affected, affected, cancel_event, create, update
from chalicelib.events.email_links import from_confirm_token, from_manage_token, from_offer_token, manage_token, offer_token
from chalicelib.events.export import export_csv, summary
from chalicelib.events.forms import (
    ACCESS_CONSENT_WORDING, EVENT_MODEL, MODES, Registration, form_key, form_values, new_form_id,
    parse_cancel_message, parse_event, parse_registration,
)
from chalicelib.events.notices import SUBJECTS, ics
from chalicelib.events.places import (
    accept_offer, confirm_registration, decline_offer, give_back, offer_by_hand, offer_free_places, register,
    request_registration,
)
from chalicelib.events.rules import (
    ACTIVE, PENDING, Availability, availability, availability_of, can_register, has_started, how_to_register,
    places_left, status,
)
from chalicelib.events.store import (
    all_events, get, get_or_404, get_registration, position, registrations, upcoming, waiting_positions,
)
from chalicelib.events.sweeps import anonymise_past, pass_on_expired_offers, send_reminders

public_url = links.event  # the name issues.py links to an event's page by

__all__ = [
    "ACCESS_CONSENT_WORDING", "ACTIVE", "EVENT_MODEL", "MODES", "PENDING", "SUBJECTS",
    "Affected", "Availability", "DiaryEntry", "Registration",
    "accept_offer", "affected", "all_events", "anonymise_past", "availability", "availability_of", "can_register",
    "cancel_event", "confirm_registration", "create", "decline_offer", "diary", "export_csv", "form_key",
    "form_values", "from_confirm_token", "from_manage_token", "from_offer_token", "get", "get_or_404",
    "get_registration", "give_back", "has_started", "how_to_register", "ics", "manage_token", "new_form_id",
    "offer_by_hand", "offer_free_places", "offer_token", "parse_cancel_message", "parse_event",
    "parse_registration", "pass_on_expired_offers", "places_left", "position", "public_url", "register",
    "registrations", "request_registration", "send_reminders", "status", "summary", "update", "upcoming",
    "waiting_positions", "when", "where",
]
