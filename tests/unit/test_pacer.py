"""The send pacer: all concurrent senders together stay within the configured SES rate."""
from __future__ import annotations

import pytest


def test_each_sender_spaces_sends_by_concurrency_over_rate(monkeypatch):
    from chalicelib import pacing as delivery, settings

    monkeypatch.setenv("PEERPOST_SEND_RATE_PER_SECOND", "10")
    monkeypatch.setenv("PEERPOST_SEND_CONCURRENCY", "2")
    settings.reset()
    slept: list[float] = []
    pacer = delivery.Pacer(sleep=slept.append)  # time does not pass: each wait stacks on the last
    for _ in range(4):
        pacer.wait()
    assert slept == pytest.approx([0.2, 0.4, 0.6], abs=0.05)
    settings.reset()


def test_a_sender_makes_up_lost_time_but_never_more_than_its_catch_up(monkeypatch):
    from chalicelib import pacing as delivery, settings

    monkeypatch.setenv("PEERPOST_SEND_RATE_PER_SECOND", "10")
    monkeypatch.setenv("PEERPOST_SEND_CONCURRENCY", "2")
    settings.reset()
    now = [100.0]
    monkeypatch.setattr(delivery.time, "monotonic", lambda: now[0])
    slept: list[float] = []
    pacer = delivery.Pacer(sleep=slept.append)
    pacer.wait()
    now[0] += 60  # idle a minute (between queue messages, say)
    sends = 0
    while not slept:  # how many go at once before the schedule holds again
        pacer.wait()
        sends += 1
    # At most CATCH_UP_SECONDS of sends at once (plus the one due now): 0.5 s / 0.2 s.
    assert sends == 1 + int(delivery.Pacer.CATCH_UP_SECONDS / 0.2) + 1
    settings.reset()
