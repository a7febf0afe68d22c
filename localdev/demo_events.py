"""The seed issue's "Dates for the diary" (../shared/seeds/004_*.txt) as live events, moved into the future."""
from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

from chalicelib import clock, events
from chalicelib.clock import LONDON

PEER_WORKERS = "Peer Workers (paid or voluntary) in K&C and/or QPP"
WEEKDAYS = {"Monday": 0, "Tuesday": 1, "Wednesday": 2, "Thursday": 3}

# (id, title, audience, weekday, weeks ahead, start, end, venue, places, mode)
DIARY = [
    ("peer-worker-network-1", "Peer Worker Network Meeting ({month})", PEER_WORKERS, "Wednesday", 2,
     time(14, 0), time(15, 30), "K&C Mind Meeting Room", 12, "open"),
    ("peer-worker-network-2", "Peer Worker Network Meeting ({month})", PEER_WORKERS, "Thursday", 6,
     time(11, 0), time(12, 30), "K&C Mind Meeting Room", 12, "open"),
    ("peer-support-network", "Peer Support Network Meeting",
     "Local organisations offering / wanting to offer peer support (K&C / QPP)", "Wednesday", 7,
     time(10, 30), time(12, 0), "Pain Quotidien, 15-17 Exhibition Road, London SW7 2HE", 3, "open"),
]
TRAINING = ("peer-support-training", "Peer Support Training",
            "Individuals with personal experience of mental health difficulties / emotional distress",
            "Kensington and Chelsea Mind")
TRAINING_WAITING = [("Dev", "dev@example.org"), ("Erin", "erin@example.org")]


def _on(weekday: str, weeks_ahead: int, at: time) -> datetime:
    today = clock.now().astimezone(LONDON).date()
    day = today + timedelta(weeks=weeks_ahead)
    day += timedelta(days=(WEEKDAYS[weekday] - day.weekday()) % 7)
    return datetime.combine(day, at, tzinfo=LONDON).astimezone(timezone.utc)


def seed_events() -> None:
    for event_id, title, audience, weekday, weeks, start, end, venue, places, mode in DIARY:
        if events.get(event_id):
            continue
        starts = _on(weekday, weeks, start)
        # the seed's "(June)" and "(July)" name the month, so they follow the dates into the future
        events.create({"title": title.format(month=starts.astimezone(LONDON).strftime("%B")), "audience": audience, "venue": venue, "online_url": "", "contact": "",
                       "starts_at": clock.iso(starts), "ends_at": clock.iso(_on(weekday, weeks, end)),
                       "capacity": places, "mode": mode, "waiting_list": True}, event_id=event_id)
    event_id, title, audience, venue = TRAINING
    if not events.get(event_id):
        starts = _on(weekday, weeks, start)
        # the seed's "(June)" and "(July)" name the month, so they follow the dates into the future
        events.create({"title": title.format(month=starts.astimezone(LONDON).strftime("%B")), "audience": audience, "venue": venue, "online_url": "", "contact": "",
                       "starts_at": "", "ends_at": "", "capacity": 12, "mode": "waitlist", "waiting_list": True},
                      event_id=event_id)
        for name, email in TRAINING_WAITING:
            events.register(event_id, events.Registration(name, email, "", False))



