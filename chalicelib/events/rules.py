"""The rules of an event, as pure functions of its item: its status, what someone arriving can do
(one Availability, computed once by availability_of), and the words each state is shown with."""
from __future__ import annotations

import enum

from chalicelib import clock
from chalicelib.errors import Conflict

ACTIVE = ("confirmed", "offered", "waiting")
ENDED = ("cancelled", "left", "declined", "expired", "withdrawn")
PENDING = "pending"   # asked for by the form, not yet confirmed from the email: counts for nothing
PENDING_HOURS = 48


def status(event: dict) -> str:
    if event["status"] == "cancelled":
        return "cancelled"
    if event.get("ends_at") and clock.parse_iso(event["ends_at"]) <= clock.now():
        return "past"
    return "scheduled"


def has_started(event: dict) -> bool:
    return bool(event.get("starts_at")) and clock.parse_iso(event["starts_at"]) <= clock.now()


def places_left(event: dict) -> int | None:
    """Places the public can take now; None when there is no limit."""
    if not event.get("limited"):
        return None
    return int(event["free"]) if int(event["waiting"]) == 0 else 0


class Availability(enum.Enum):
    """What someone arriving at an event can do now. Rules use this; labels are derived from it."""

    CANCELLED = "cancelled"
    FINISHED = "finished"
    STARTED = "started"
    CONTACT = "contact"
    PLACES = "places"
    WAITING_LIST = "waiting-list"
    FULL = "full"


OPEN = (Availability.PLACES, Availability.WAITING_LIST)
LABELS = {Availability.CANCELLED: "Cancelled", Availability.FINISHED: "This event has finished",
          Availability.STARTED: "Registration is closed", Availability.CONTACT: "Contact the coordinator",
          Availability.PLACES: "Places available",  # with a limit, the number left instead
          Availability.WAITING_LIST: "Waiting list open", Availability.FULL: "Full"}
ACTIONS = {Availability.CANCELLED: "Registration is closed", Availability.FINISHED: "Registration is closed",
           Availability.STARTED: "Registration is closed", Availability.CONTACT: "Contact the coordinator",
           Availability.PLACES: "Reserve a place", Availability.WAITING_LIST: "Join the waiting list",
           Availability.FULL: "Full"}


def availability_of(event: dict) -> Availability:
    state = status(event)
    if state == "cancelled":
        return Availability.CANCELLED
    if state == "past":
        return Availability.FINISHED
    if has_started(event):
        return Availability.STARTED
    if event["mode"] == "contact":
        return Availability.CONTACT
    if event["mode"] == "waitlist":
        return Availability.WAITING_LIST
    left = places_left(event)
    if left is None or left > 0:
        return Availability.PLACES
    return Availability.WAITING_LIST if event.get("waiting_list", True) else Availability.FULL


def availability(event: dict) -> str:
    found = availability_of(event)
    left = places_left(event)
    if found is Availability.PLACES and left is not None:
        return f"{left} place{'s' if left != 1 else ''} left"
    return LABELS[found]


def how_to_register(event: dict) -> str:
    return ACTIONS[availability_of(event)]


def can_register(event: dict) -> bool:
    return availability_of(event) in OPEN


def ensure_open(event: dict) -> None:
    state = status(event)
    if state == "cancelled":
        raise Conflict("This event has been cancelled, so registration is closed.")
    if state == "past" or has_started(event):
        raise Conflict("This event has already taken place, so registration is closed.")
    if event["mode"] == "contact":
        raise Conflict(f"To take part, please contact the coordinator: {event.get('contact', '')}")


def offers_automatically(event: dict) -> bool:
    """Whether a place that comes free goes to the front of the queue without a coordinator."""
    return event["mode"] == "open" and status(event) == "scheduled" and not has_started(event)


def free_for(limited: bool, capacity: int, mode: str, confirmed: int, held: int) -> int:
    """The counter `free` for these numbers: only an open event with a limit has places for anyone to take."""
    return max(0, capacity - confirmed - held) if limited and mode == "open" else 0


def same_date(event: dict | None, starts_at: str, ends_at: str) -> bool:
    return bool(event) and (event.get("starts_at", ""), event.get("ends_at", "")) == (starts_at, ends_at)
