"""Pure parts of events: how times, places and availability read."""
from __future__ import annotations

import pytest

from chalicelib import events
from chalicelib.events import rules


def event(**overrides) -> dict:
    base = {"event_id": "e1", "title": "Meeting", "audience": "Peer workers", "status": "scheduled",
            "starts_at": "2030-06-08T13:00:00+00:00", "ends_at": "2030-06-08T14:30:00+00:00", "venue": "Room",
            "online_url": "", "mode": "open", "limited": True, "capacity": 10, "free": 3, "held": 0,
            "confirmed": 7, "waiting": 0, "waiting_list": True}
    return {**base, **overrides}


def test_when_is_in_london_time_with_short_clock_times():
    # written as the `london` filter writes every date on pages and in emails
    assert events.when(event()) == "Saturday 8 June 2030, 2:00pm to 3:30pm"  # BST
    assert events.when(event(starts_at="2030-12-04T10:00:00+00:00", ends_at="2030-12-04T12:00:00+00:00")) == \
        "Wednesday 4 December 2030, 10:00am to 12:00pm"  # GMT
    assert events.when(event(starts_at="", ends_at="")) == "To be confirmed"


@pytest.mark.parametrize("overrides, availability, how", [
    ({}, "3 places left", "Reserve a place"),
    ({"free": 1}, "1 place left", "Reserve a place"),
    ({"free": 0}, "Waiting list open", "Join the waiting list"),
    ({"free": 2, "waiting": 1}, "Waiting list open", "Join the waiting list"),  # held for the queue
    ({"free": 0, "waiting_list": False}, "Full", "Full"),
    ({"limited": False}, "Places available", "Reserve a place"),
    ({"mode": "waitlist"}, "Waiting list open", "Join the waiting list"),
    ({"mode": "contact"}, "Contact the coordinator", "Contact the coordinator"),
    ({"status": "cancelled"}, "Cancelled", "Registration is closed"),
])
def test_availability_and_how_to_register(overrides, availability, how):
    assert events.availability(event(**overrides)) == availability
    assert events.how_to_register(event(**overrides)) == how


def test_where_never_gives_the_online_link():
    assert events.where(event(venue="", online_url="https://meet.example.org/x")) == "Online"
    assert events.where(event(venue="K&C Mind", online_url="https://meet.example.org/x")) == "K&C Mind"


def test_registration_parsing():
    with pytest.raises(Exception) as raised:
        events.parse_registration({"name": "", "email": "x", "access_needs": "wheelchair"})
    assert set(raised.value.errors) == {"name", "email", "access_consent"}
    parsed = events.parse_registration({"name": " Sam  Lee ", "email": "Sam@Example.org"})
    assert (parsed.name, parsed.access_needs, parsed.access_consent) == ("Sam Lee", "", False)


def test_rules_use_the_availability_enum_and_labels_come_from_it():
    assert events.availability_of(event()) is events.Availability.PLACES
    assert events.availability_of(event(free=0, waiting_list=False)) is events.Availability.FULL
    assert events.availability_of(event(free=0)) is events.Availability.WAITING_LIST
    assert events.availability_of(event(status="cancelled")) is events.Availability.CANCELLED
    assert events.can_register(event()) and events.can_register(event(free=0))
    assert not events.can_register(event(free=0, waiting_list=False)) and not events.can_register(event(mode="contact"))
    for member in events.Availability:  # every state has words, and none is computed from words
        assert member in rules.LABELS and member in rules.ACTIONS


# ---------------------------------------------------------------- the rules, alone (no AWS)

PAST = {"starts_at": "2020-01-01T10:00:00+00:00", "ends_at": "2020-01-01T12:00:00+00:00"}


@pytest.mark.parametrize("overrides, found", [
    ({"free": 0, "confirmed": 10}, rules.Availability.WAITING_LIST),  # full, with a waiting list
    ({"free": 0, "confirmed": 10, "waiting_list": False}, rules.Availability.FULL),
    ({"free": 3, "waiting": 2}, rules.Availability.WAITING_LIST),  # free places are the queue's first
    ({"limited": False, "free": 0}, rules.Availability.PLACES),
    (PAST, rules.Availability.FINISHED),
    ({**PAST, "status": "cancelled"}, rules.Availability.CANCELLED),  # cancelled wins over finished
    ({"starts_at": "2020-01-01T10:00:00+00:00"}, rules.Availability.STARTED),  # started, not yet ended
    ({"mode": "contact", "free": 0, "waiting_list": False}, rules.Availability.CONTACT),
    ({"mode": "waitlist", "limited": False}, rules.Availability.WAITING_LIST),
])
def test_availability_is_computed_once_from_the_event(overrides, found):
    e = event(**overrides)
    assert rules.availability_of(e) is found
    assert rules.can_register(e) == (found in rules.OPEN)
    assert rules.how_to_register(e) == rules.ACTIONS[found]


def test_every_availability_has_a_label_and_an_action_and_labels_tell_them_apart():
    assert set(rules.LABELS) == set(rules.Availability) == set(rules.ACTIONS)
    assert len(set(rules.LABELS.values())) == len(rules.Availability)


def test_no_rule_compares_label_strings():
    from pathlib import Path

    import chalicelib.events

    source = "".join(p.read_text() for p in Path(chalicelib.events.__file__).parent.glob("*.py"))
    for label in {*rules.LABELS.values(), *rules.ACTIONS.values()}:
        assert f'== "{label}"' not in source and f'!= "{label}"' not in source


def test_places_left_counts_only_what_the_public_may_take():
    assert rules.places_left(event(free=3)) == 3
    assert rules.places_left(event(free=3, waiting=1)) == 0
    assert rules.places_left(event(limited=False)) is None
    assert rules.availability(event(free=1)) == "1 place left"


def test_registration_is_refused_once_closed():
    from chalicelib.errors import Conflict

    for overrides in ({"status": "cancelled"}, PAST, {"starts_at": "2020-01-01T10:00:00+00:00"},
                      {"mode": "contact", "contact": "ask Sam"}):
        with pytest.raises(Conflict):
            rules.ensure_open(event(**overrides))
    rules.ensure_open(event(free=0))  # full is for the waiting list to decide, not a closed event


def test_free_places_and_same_date():
    assert rules.free_for(True, 10, "open", 6, 2) == 2
    assert rules.free_for(True, 10, "open", 9, 2) == 0
    assert rules.free_for(True, 10, "waitlist", 0, 0) == 0 and rules.free_for(False, 0, "open", 3, 0) == 0
    assert rules.same_date(event(), event()["starts_at"], event()["ends_at"])
    assert not rules.same_date(None, "", "") and not rules.same_date(event(), "", "")
