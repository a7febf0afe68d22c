"""How an event reads to the public (when and where it is) and the diary the newsletter shows."""
from __future__ import annotations

from dataclasses import dataclass

from chalicelib import clock, links
from chalicelib.events import rules, store


@dataclass(frozen=True)
class DiaryEntry:
    event_id: str
    title: str
    audience: str          # who it is for
    when: str              # e.g. "Wednesday 8 June 2027, 2pm to 3:30pm" in Europe/London, or "To be confirmed"
    where: str             # venue name/address, or "Online" (never the private online link)
    how_to_register: str   # e.g. "Reserve a place", "Join the waiting list", "Contact the coordinator"
    url: str               # absolute public URL of the event's page (links.event)
    availability: str      # e.g. "3 places left", "Waiting list open", "Full"


def when(event: dict) -> str:
    """Written as every page and email writes a time: the `london` filter, the end's day only if it differs."""
    from chalicelib.rendering import environment

    if not event.get("starts_at"):
        return "To be confirmed"
    london = environment().filters["london"]
    start, end = clock.in_london(event["starts_at"]), clock.in_london(event["ends_at"])
    if end.date() == start.date():
        return f"{london(start)} to {london(end, '%-I:%M%p')}"
    return f"{london(start)} to {london(end)}"


def where(event: dict) -> str:
    return event.get("venue") or ("Online" if event.get("online_url") else "To be confirmed")


def entry(event: dict) -> DiaryEntry:
    return DiaryEntry(
        event_id=event["event_id"], title=event["title"], audience=event["audience"], when=when(event),
        where=where(event), how_to_register=rules.how_to_register(event), url=links.event(event["event_id"]),
        availability=rules.availability(event),
    )


def diary(limit: int = 20) -> list[DiaryEntry]:
    """Upcoming scheduled events, soonest first, TBC last: what the newsletter's diary section shows."""
    return [entry(e) for e in store.upcoming()[:limit]]
