"""What coordinators take away: an event's registrations as CSV, and its counts for pages and the API."""
from __future__ import annotations

from chalicelib import spreadsheet
from chalicelib.events import rules, store
from chalicelib.events.diary import when

HEADER = ["arrival", "name", "email", "status", "waiting_position", "registered_at", "confirmed_at",
          "offer_expires_at", "access_needs"]


def export_csv(event_id: str) -> str:
    store.get_or_404(event_id)
    positions = store.waiting_positions(event_id)
    return spreadsheet.write(HEADER, (
        (reg["arrival"], reg["name"], reg["email"], reg["status"], positions.get(reg["registration_id"], ""),
         reg["created_at"], reg.get("confirmed_at", ""),
         reg.get("offer_expires_at", "") if reg["status"] == "offered" else "",
         reg.get("access_needs", "") if reg["status"] in rules.ACTIVE else "")
        for reg in store.registrations(event_id)))


def summary(event: dict) -> dict:
    """Counts for coordinator pages and the API."""
    return {"event_id": event["event_id"], "title": event["title"], "status": rules.status(event),
            "when": when(event), "capacity": int(event["capacity"]) if event.get("limited") else None,
            "confirmed": int(event["confirmed"]), "offered": int(event["held"]), "waiting": int(event["waiting"]),
            "free": int(event["free"]), "availability": rules.availability(event), "mode": event["mode"]}
