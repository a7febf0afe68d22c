"""Emails to attendees (one template, a subject per kind), their calendar files, and telling many
people of a change or a cancellation once each."""
from __future__ import annotations

from chalicelib import claims, clock, emails, links, ratelimit
from chalicelib.errors import NotFound, SendThrottled
from chalicelib.events import email_links, rules, store
from chalicelib.events.diary import when, where
from chalicelib.observability import count
from chalicelib.settings import get_settings
from chalicelib.wiring import Metric

SUBJECTS = {
    "confirmed": "Your place at {title} is confirmed",
    "waiting": "You are on the waiting list for {title}",
    "already": "You are already registered for {title}",
    "offer": "A place is free for you at {title}",
    "reminder": "Reminder: {title} is coming up",
    "changed": "Changed: {title}",
    "cancelled_event": "Cancelled: {title}",
    "gave_back": "You have given your place back: {title}",
    "left": "You have left the waiting list: {title}",
    "offer_expired": "Your offer for {title} has expired",
    "request": "Please confirm your registration for {title}",
}


def ics(event: dict, *, for_attendee: bool = False, cancelled: bool = False) -> bytes:
    """An iCalendar file for the event; the online link only in an attendee's copy."""
    from icalendar import Calendar
    from icalendar import Event as CalendarEvent

    if not event.get("starts_at"):
        raise NotFound("This event has no date yet, so there is no calendar entry. We will email you when it is set.")
    settings = get_settings()
    domain = settings.public_base_url.split("//", 1)[-1].split("/", 1)[0].split(":", 1)[0]
    calendar = Calendar()
    calendar.add("prodid", "-//PeerPost//Dates for the diary//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "CANCEL" if cancelled else "PUBLISH")
    entry = CalendarEvent()
    entry.add("uid", f"event-{event['event_id']}@{domain}")
    entry.add("dtstamp", clock.now())
    entry.add("dtstart", clock.parse_iso(event["starts_at"]))
    entry.add("dtend", clock.parse_iso(event["ends_at"]))
    entry.add("summary", event["title"])
    entry.add("sequence", int(event.get("version", 1)))
    entry.add("status", "CANCELLED" if cancelled or event["status"] == "cancelled" else "CONFIRMED")
    location = event.get("venue") or "Online"
    if for_attendee and event.get("online_url"):
        location = f"{event['venue']} / {event['online_url']}" if event.get("venue") else event["online_url"]
    entry.add("location", location)
    entry.add("url", links.event(event["event_id"]))
    entry.add("description", f"For: {event['audience']}\n{links.event(event['event_id'])}")
    calendar.add_component(entry)
    return calendar.to_ical()


def _calendar_attachment(event: dict, cancelled: bool = False) -> tuple:
    from chalicelib.mail import Attachment

    if not event.get("starts_at"):
        return ()
    method = "CANCEL" if cancelled else "PUBLISH"
    return (Attachment("event.ics", ics(event, for_attendee=True, cancelled=cancelled), "text", "calendar",
                       {"method": method}),)


def send(event: dict, reg: dict, kind: str) -> None:
    """One email of `kind` (a key of SUBJECTS) to the person registered; nothing once they are anonymised."""
    if not reg or reg.get("anonymised_at"):
        return
    attachments = ()
    if kind in ("confirmed", "changed", "reminder") and reg["status"] == "confirmed":
        attachments = _calendar_attachment(event)
    elif kind == "cancelled_event" and reg["status"] == "confirmed":
        attachments = _calendar_attachment(event, cancelled=True)
    emails.send(
        reg["email"], "event_notice", SUBJECTS[kind].format(title=event["title"]), purpose=f"event-{kind}",
        attachments=attachments, kind=kind, attendee=reg["name"], title=event["title"], audience=event["audience"],
        when=when(event), where=where(event), registration_status=reg["status"], position=store.position(reg),
        online_url=event.get("online_url", "") if reg["status"] == "confirmed" else "",
        offer_expires=reg.get("offer_expires_at", ""), event_url=links.event(event["event_id"]),
        coordinator_message=event.get("cancel_message", "") if kind == "cancelled_event" else "",
        **email_links.urls(reg))


def already_registered(event: dict, reg: dict) -> None:
    # Only the address itself learns it was registered; a flood of repeats sends at most a few.
    if ratelimit.allow("event-already", f"{event['event_id']}#{reg['email']}", 3):
        send(event, reg, "already")


def send_offer(event_id: str, rid: str) -> None:
    """The email of an open offer, once per offer (a sweep sends any whose first sending failed)."""
    reg = store.get_registration(event_id, rid)
    if not reg or reg["status"] != "offered":
        return
    event = store.get_or_404(event_id)
    if rules.status(event) != "scheduled":
        return
    with claims.once(claims.event_offer(reg["offer_expires_at"]), rid) as first:
        if first:
            send(event, reg, "offer")
    if first:
        count(Metric.EVENT_OFFERS)


def notify_change(event: dict) -> int:
    told = [reg for reg in store.registrations(event["event_id"])
            if reg["status"] in ("confirmed", "offered") or (reg["status"] == "waiting" and event.get("starts_at"))]
    return tell_each(event, told, claims.event_change(event["event_id"], event["version"]), "changed")


def tell_each(event: dict, people: list[dict], purpose: str, kind: str) -> int:
    """Email each person once; one failure neither stops the rest nor uses up that person's claim."""
    failed = told = 0
    for reg in people:
        try:
            with claims.once(purpose, reg["registration_id"]) as first:
                if first:
                    send(event, reg, kind)
        except Exception:  # their claim was given back, so pressing again reaches them
            failed += 1
            continue
        if first:
            told += 1
    if failed:
        raise SendThrottled(f"{failed} people could not be emailed just now. Press the button again in a "
                            "minute: only they will be emailed.")
    return told
