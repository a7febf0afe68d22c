"""The chaos test: the send function as `make package` deploys it (batch size, concurrency, pacing, timeout,
environment, redrive), with SES throttling, duplicate SQS deliveries and a sender killed mid-batch.

Runs through bench/harness (moto's server shared by worker processes, the SES stand-in on loopback).
Nothing is timed: generous deadlines only. The queue's visibility is compressed to 12 s so that a
killed sender's message comes back within the test; the delivery lease follows it (the contract).
"""
from __future__ import annotations

import pytest

from bench.harness import deployed
from bench.harness.run import Scenario, run


def test_300_readers_3_senders_20_percent_throttled_one_killed_and_duplicates_each_get_exactly_one_copy(package):
    deployment = deployed.read(package / "sam.json")
    assert deployment.max_concurrency == 3  # 14/s, the default SES rate: three senders
    result = run(Scenario(subscribers=300, template=package / "sam.json", throttle_share=0.2,
                          duplicate_share=0.5, kill_after_accepted=25, visibility_seconds=12,
                          deadline_seconds=420))
    assert result["killed"] == 1 and result["throttled"] > 0 and result["workers"] == 3
    outcomes, copies = result["outcomes_by_recipient"], result["copies_by_recipient"]
    assert all(status in ("sent", "failed", "suppressed") for status in outcomes.values())  # every one final
    assert result["lost"] == 0 and result["dead_letters"] == 0 and result["issue_status"] == "sent"
    assert max(copies.values()) == 1 and result["duplicates"] == 0  # never two copies
    assert all(copies[r] == 1 for r, status in outcomes.items() if status == "sent")
    # Only the sender killed between its claim and SES can leave someone without a copy: failed, with a reason.
    unsent = [r for r, n in copies.items() if n == 0]
    assert len(unsent) <= 1 and all(outcomes[r] == "failed" for r in unsent)
