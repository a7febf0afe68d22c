"""What coordinators and attendees type about an event: the event form (and its JSON model), the
registration form with its access-needs consent, and a cancellation's message."""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from chalicelib import clock, forms
from chalicelib.errors import ValidationError
from chalicelib.events import rules
from chalicelib.models import Field, Model
from chalicelib.signing_secret import keyed_hash

MODES = {
    "open": "Open registration",
    "waitlist": "Waiting list only (for example, training with no date yet)",
    "contact": "Contact the coordinator",
}
ACCESS_CONSENT_VERSION = "access-needs-2026-11"
ACCESS_CONSENT_WORDING = (
    "I agree that PeerPost may keep what I write about my access needs, which may be about my health, "
    "so the organisers can make arrangements for me. Only the coordinators see it, and it is deleted "
    "after the event."
)
MAX_TITLE, MAX_TEXT, MAX_NAME, MAX_NEEDS, MAX_MESSAGE = 150, 300, 80, 1000, 1000
PAST_DATE = ("That date and time has already passed. Choose a date and time in the future, or tick "
             "'Date to be confirmed'.")


@dataclass(frozen=True)
class Registration:
    name: str
    email: str
    access_needs: str
    access_consent: bool


EVENT_MODEL = Model("Event", (
    Field("title", required=True, max_length=MAX_TITLE),
    Field("audience", required=True, max_length=MAX_TEXT, description="Who the event is for"),
    Field("venue", max_length=MAX_TEXT),
    Field("contact", max_length=MAX_TEXT, description="How to reach the coordinator (mode 'contact')"),
    Field("online_url", max_length=500, format="uri", description="Shown only to confirmed attendees"),
    Field("tbc", max_length=5, description="'yes' when the date is to be confirmed"),
    Field("date", max_length=10, format="date", description="Europe/London date, YYYY-MM-DD"),
    Field("start_time", max_length=5, description="Europe/London time, HH:MM"),
    Field("end_time", max_length=5, description="Europe/London time, HH:MM"),
    Field("capacity", max_length=5, description="Number of places, 1 to 10000; empty for no limit"),
    Field("mode", enum=tuple(MODES)),
    Field("waiting_list", max_length=5, description="'yes' to keep a waiting list when full"),
))


def parse_event(data: dict, current: dict | None = None) -> dict:
    """Form fields to event attributes; raises ValidationError with a message per field.

    A date in the past is refused, unless it is the date `current` (the event being edited) already has."""
    errors: dict[str, str] = {}
    text = {k: forms.clean_line(data.get(k)) for k in ("title", "audience", "venue", "contact")}
    online_url = str(data.get("online_url", "")).strip()
    if not text["title"]:
        errors["title"] = "Enter a title."
    if not text["audience"]:
        errors["audience"] = "Say who the event is for."
    for name, limit in (("title", MAX_TITLE), ("audience", MAX_TEXT), ("venue", MAX_TEXT), ("contact", MAX_TEXT)):
        if len(text[name]) > limit:
            errors[name] = f"Use at most {limit} characters."
    if online_url and not (online_url.startswith("https://") and len(online_url) < 500 and " " not in online_url):
        errors["online_url"] = "Enter the full online link, starting with https://"
    starts_at = ends_at = ""
    if not forms.ticked(data.get("tbc")):
        day, start, end = (str(data.get(k, "")).strip() for k in ("date", "start_time", "end_time"))
        try:
            datetime.fromisoformat(f"{day}T{start}")
            datetime.fromisoformat(f"{day}T{end}")
        except ValueError:
            errors["date"] = "Enter a date and start and end times, or tick 'Date to be confirmed'."
        else:
            try:
                begin = clock.london_to_utc(f"{day}T{start}", field="start_time")
                finish = clock.london_to_utc(f"{day}T{end}", field="end_time")
            except ValidationError as error:
                errors.update(error.errors)
            else:
                starts_at, ends_at = clock.iso(begin), clock.iso(finish)
                if finish <= begin:
                    errors["end_time"] = "The end must be after the start."
                elif begin <= clock.now() and not rules.same_date(current, starts_at, ends_at):
                    errors["date"] = PAST_DATE
    capacity_raw = str(data.get("capacity", "")).strip()
    capacity = None
    if capacity_raw:
        if not (capacity_raw.isascii() and capacity_raw.isdigit()) or not 1 <= int(capacity_raw) <= 10000:
            errors["capacity"] = "Enter a number of places from 1 to 10000, or leave it empty for no limit."
        else:
            capacity = int(capacity_raw)
    mode = str(data.get("mode", "open"))
    if mode not in MODES:
        errors["mode"] = "Choose how people register."
    if mode == "contact" and not text["contact"]:
        errors["contact"] = "Say how to contact the coordinator, for example an email address."
    if errors:
        raise ValidationError(errors)
    return {**text, "online_url": online_url, "starts_at": starts_at, "ends_at": ends_at,
            "capacity": capacity, "mode": mode, "waiting_list": forms.ticked(data.get("waiting_list"))}


def form_values(event: dict) -> dict:
    """An event as the edit form shows it (times in Europe/London)."""
    values = {k: event.get(k, "") for k in ("title", "audience", "venue", "online_url", "contact", "mode")}
    values["capacity"] = str(event["capacity"]) if event.get("capacity") else ""
    values["waiting_list"] = "yes" if event.get("waiting_list", True) else ""
    if event.get("starts_at"):
        start, end = clock.in_london(event["starts_at"]), clock.in_london(event["ends_at"])
        values.update(date=start.strftime("%Y-%m-%d"), start_time=start.strftime("%H:%M"),
                      end_time=end.strftime("%H:%M"), tbc="")
    else:
        values.update(date="", start_time="", end_time="", tbc="yes")
    return values


def form_key(form_id: str) -> str:
    """The id an event created from one rendering of the form gets, so a second submission creates nothing."""
    return keyed_hash("event-form", str(form_id))[:12].lower()


def new_form_id() -> str:
    return secrets.token_urlsafe(16)


def parse_registration(data: dict) -> Registration:
    errors: dict[str, str] = {}
    name = forms.clean_line(data.get("name"))
    if not name:
        errors["name"] = "Enter your name."
    elif len(name) > MAX_NAME:
        errors["name"] = f"Use at most {MAX_NAME} characters."
    email = ""
    try:
        email = forms.email_address(data.get("email"))
    except ValidationError as exc:
        errors.update(exc.errors)
    needs = forms.clean_text(data.get("access_needs"))
    consent = forms.ticked(data.get("access_consent"))
    if len(needs) > MAX_NEEDS:
        errors["access_needs"] = f"Use at most {MAX_NEEDS} characters."
    elif needs and not consent:
        errors["access_consent"] = ("Tick the box so we may keep what you told us about your access needs, "
                                    "or leave that box empty.")
    if errors:
        raise ValidationError(errors)
    return Registration(name, email, needs, consent and bool(needs))


def parse_cancel_message(data: dict) -> str:
    message = forms.clean_text(data.get("message"))
    if len(message) > MAX_MESSAGE:
        raise ValidationError({"message": f"Use at most {MAX_MESSAGE} characters."})
    return message
