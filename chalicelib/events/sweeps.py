"""Scheduled work: expired offers passed on, reminders before an event, attendees' details deleted after it."""
from __future__ import annotations

from datetime import timedelta

from chalicelib import claims, clock
from chalicelib.events import notices, places, rules, store
from chalicelib.observability import count, logger
from chalicelib.settings import get_settings
from chalicelib.wiring import Metric


def pass_on_expired_offers() -> int:
    """Expired offers go to the next person; offers whose email never left are sent now."""
    passed, now = 0, clock.iso()
    for reg in store.open_offers():
        if reg["status"] != "offered":
            continue
        if reg["offer_expires_at"] <= now:
            passed += int(places.end_offer(reg["event_id"], reg, "expired"))
        else:
            notices.send_offer(reg["event_id"], reg["registration_id"])
    logger().info("offers swept", extra={"expired": passed})
    return passed


def send_reminders() -> int:
    """Remind confirmed attendees of events starting within settings.reminder_hours_before, once each."""
    hours = get_settings().reminder_hours_before
    now = clock.now()
    sent = 0
    for event in store.starting_between(clock.iso(now), clock.iso(now + timedelta(hours=hours))):
        if rules.status(event) != "scheduled":
            continue
        for reg in store.registrations(event["event_id"]):
            if reg["status"] != "confirmed":
                continue
            with claims.once(claims.event_reminder(event["event_id"], event["starts_at"]), reg["registration_id"]) as first:
                if first:
                    notices.send(event, reg, "reminder")
            if first:
                sent += 1
    if sent:
        count(Metric.EVENT_REMINDERS, sent)
    return sent


def anonymise_past() -> int:
    """Access needs go when the event ends; names and addresses settings.attendee_retention_days later."""
    now = clock.now()
    cutoff = now - timedelta(days=get_settings().attendee_retention_days)
    done = 0
    # Dated events that have started, and undated ("TBC") ones, which may have been cancelled.
    for event in store.started_before(clock.iso(now)) + store.undated():
        ended = event.get("ends_at") and clock.parse_iso(event["ends_at"]) <= now
        # Only time passing ends an event: a date can never be edited into the past (update refuses it).
        cancelled_at = event.get("cancelled_at") or event["updated_at"]
        finished = ended or (event["status"] == "cancelled" and clock.parse_iso(cancelled_at) <= now)
        if not finished or event.get("anonymised_at"):
            continue
        anonymise = clock.parse_iso(event.get("ends_at") or cancelled_at) <= cutoff
        for reg in store.registrations(event["event_id"], include_pending=True):
            if anonymise and not reg.get("anonymised_at"):
                store.anonymise(event["event_id"], reg["registration_id"])
                done += 1
            elif "access_needs" in reg:
                store.forget_access_needs(event["event_id"], reg["registration_id"])
        if anonymise:
            store.mark_anonymised(event["event_id"])
    logger().info("attendees anonymised", extra={"registrations": done})
    return done
