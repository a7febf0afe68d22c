"""Events' calendar file and diary, read back through the table (moto): the parts of events that
are not pure, so not in tests/unit."""
from __future__ import annotations

from chalicelib import events
from tests.unit.test_events_unit import event


def test_calendar_file_parses_and_hides_the_online_link_from_the_public(tables):
    from icalendar import Calendar

    e = event(online_url="https://meet.example.org/x", version=3)
    public = Calendar.from_ical(events.ics(e))
    private = Calendar.from_ical(events.ics(e, for_attendee=True))
    [vevent] = public.walk("VEVENT")
    assert vevent.decoded("DTSTART").isoformat() == e["starts_at"]
    assert int(vevent["SEQUENCE"]) == 3 and str(vevent["STATUS"]) == "CONFIRMED"
    assert "meet.example.org" not in events.ics(e).decode()
    assert "meet.example.org" in str(private.walk("VEVENT")[0]["LOCATION"])
    assert str(Calendar.from_ical(events.ics(e, cancelled=True))["METHOD"]) == "CANCEL"


def test_diary_lists_upcoming_soonest_first_tbc_last(tables):
    from chalicelib import clock

    def make(title, starts, mode="open"):
        ends = clock.iso(clock.parse_iso(starts).replace(hour=23)) if starts else ""
        return events.create({"title": title, "audience": "All", "venue": "Room", "online_url": "", "contact": "",
                              "starts_at": starts, "ends_at": ends, "capacity": 5, "mode": mode, "waiting_list": True})

    make("Later", "2031-02-01T10:00:00+00:00")
    make("Training", "", mode="waitlist")
    make("Sooner", "2031-01-01T10:00:00+00:00")
    make("Past", "2020-01-01T10:00:00+00:00")
    cancelled = make("Cancelled", "2031-01-15T10:00:00+00:00")
    events.cancel_event(cancelled["event_id"])
    diary = events.diary()
    assert [d.title for d in diary] == ["Sooner", "Later", "Training"]
    assert diary[2].when == "To be confirmed" and diary[2].availability == "Waiting list open"
    assert all(isinstance(d, events.DiaryEntry) for d in diary)
    assert [d.title for d in events.diary(limit=1)] == ["Sooner"]
