"""The send pacer: all concurrent senders together stay within the configured SES rate."""
from __future__ import annotations

import pytest


def test_each_sender_spaces_sends_by_concurrency_over_rate(monkeypatch):
    from chalicelib import delivery, settings

    monkeypatch.setenv("PEERPOST_SEND_RATE_PER_SECOND", "10")
    monkeypatch.setenv("PEERPOST_SEND_CONCURRENCY", "2")
    settings.reset()
    slept: list[float] = []
    pacer = delivery.Pacer(sleep=slept.append)  # time does not pass: each wait stacks on the last
    for _ in range(4):
        pacer.wait()
    assert slept == pytest.approx([0.2, 0.4, 0.6], abs=0.05)
    settings.reset()
