"""Copies one sender keeps at SES at once (delivery.InFlight): its share of the rate times the SES round trip."""
from __future__ import annotations

import threading
import time

import pytest


@pytest.fixture
def in_flight(monkeypatch):
    from chalicelib import delivery, settings

    monkeypatch.setenv("PEERPOST_SEND_IN_FLIGHT", "4")
    settings.reset()
    yield delivery.InFlight()
    settings.reset()


def test_one_at_a_time_until_a_round_trip_is_known_then_share_times_round_trip_up_to_the_setting(in_flight):
    assert in_flight.limit_for(200) == 1  # nothing measured yet
    in_flight.took(0.05)
    assert in_flight.limit_for(5) == 1  # 40 senders sharing 200/s: one copy per 200 ms
    assert in_flight.limit_for(40) == 2
    assert in_flight.limit_for(200) == 4  # alone with the whole rate: 10 would be needed, the setting caps it
    in_flight.took(0.15)  # a slower answer moves the average, not replaces it
    assert in_flight.limit_for(40) == 3  # 0.8 * 0.05 + 0.2 * 0.15 = 0.07 s


def test_a_limit_of_one_runs_the_copy_in_the_senders_own_thread(in_flight):
    ran_in: list[threading.Thread] = []
    assert in_flight.reserve(5)
    in_flight.start(lambda: ran_in.append(threading.current_thread()))
    in_flight.finish()
    assert ran_in == [threading.current_thread()]


def test_copies_overlap_up_to_the_limit_and_never_beyond(in_flight):
    lock, busy, peak = threading.Lock(), [0], [0]
    release = threading.Event()

    def copy():
        with lock:
            busy[0] += 1
            peak[0] = max(peak[0], busy[0])
        release.wait(5)
        with lock:
            busy[0] -= 1

    in_flight.took(1.0)
    opening = threading.Timer(0.3, release.set)  # until then four are held at once and the fifth waits
    opening.start()
    for _ in range(10):
        assert in_flight.reserve(100)
        in_flight.start(copy)
    in_flight.finish()
    opening.join()
    assert peak[0] == 4 and busy[0] == 0


def test_a_copy_that_raises_stops_the_sender_and_is_raised_by_finish(in_flight):
    started: list[int] = []

    def copy(n):
        started.append(n)
        if n == 1:
            raise RuntimeError("a defect in one copy")
        for _ in range(5000):  # the others stay in flight until it has raised
            if in_flight.failed:
                break
            time.sleep(0.001)

    in_flight.took(1.0)
    with pytest.raises(RuntimeError, match="a defect in one copy"):
        for n in range(50):
            if not in_flight.reserve(100):
                break
            in_flight.start(copy, n)
        in_flight.finish()
    # At most the four places, and one freed by copy 0, were taken before the failure; no copy starts after it.
    assert len(started) <= 5 and in_flight.reserve(100)  # finish() cleared it: the next message may go on
