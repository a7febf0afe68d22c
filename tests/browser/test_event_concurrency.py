"""50 simultaneous registrations for 10 places, over HTTP, against a running local PeerPost (several rounds).

"Arrival order" under true concurrency: every registration first takes the next number from an atomic
counter on the event (its server-side arrival sequence). Which 10 requests win a place is decided by
conditional transactions, so we assert exactly 10 confirmed and 40 waiting, and that the waiting list is
numbered 1..40 without gaps or duplicates, in the order of that arrival sequence.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.browser.events_http import call, coordinator_token, create_event

pytestmark = pytest.mark.browser

PEOPLE, PLACES, ROUNDS = 50, 10, 3


@pytest.mark.parametrize("round_number", range(ROUNDS))
def test_fifty_at_once_for_ten_places(peerpost, round_number):
    token = coordinator_token(peerpost.base)
    event_id = create_event(peerpost.base, token, f"Concurrency round {round_number}", PLACES)
    start = threading.Barrier(PEOPLE)

    def register(n: int) -> int:
        start.wait()
        status, _ = call("POST", f"{peerpost.base}/events/{event_id}/register",
                         {"name": f"Racer {n}", "email": f"racer{n}.r{round_number}@example.org"})
        return status

    with ThreadPoolExecutor(max_workers=PEOPLE) as pool:
        statuses = list(pool.map(register, range(PEOPLE)))
    assert statuses == [202] * PEOPLE

    status, event = call("GET", f"{peerpost.base}/api/coordinator/events/{event_id}", token=token)
    assert status == 200
    regs = event["registrations"]
    by_status = {s: [r for r in regs if r["status"] == s] for s in ("confirmed", "waiting", "offered")}
    assert len(regs) == PEOPLE
    assert (len(by_status["confirmed"]), len(by_status["waiting"]), len(by_status["offered"])) == (PLACES, PEOPLE - PLACES, 0)
    assert (event["confirmed"], event["waiting"], event["free"], event["offered"]) == (PLACES, PEOPLE - PLACES, 0, 0)
    assert sorted(r["arrival"] for r in regs) == list(range(1, PEOPLE + 1))  # one arrival number each
    queue = sorted(by_status["waiting"], key=lambda r: r["position"])
    assert [r["position"] for r in queue] == list(range(1, PEOPLE - PLACES + 1))
    arrivals = [r["arrival"] for r in queue]
    assert arrivals == sorted(arrivals)  # first come, first served

    racers = [m for m in peerpost.messages() if any(f".r{round_number}@" in to for to in m["to"])]
    assert len(racers) == PEOPLE  # one email each: a place, or the waiting list
    assert sum(m["subject"].startswith("Your place at") for m in racers) == PLACES
