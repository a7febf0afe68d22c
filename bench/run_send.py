"""The send as deployed, through bench/harness: quota share and throttling at SES rates 14, 50 and 200/s,
then faults (2% transient SES errors, duplicate deliveries, one sender killed mid-batch).

For each rate the package is built with `infra.package.build(rate)` (what `make package SES_SEND_RATE=r`
does) into dist/bench-<rate>/, and the harness runs the senders that template deploys. Audiences fill
whole rounds of the senders (concurrency x 100 recipients) for about a minute at each rate.

- quota_share_<r>: copies SES accepted per second, first to last, divided by the rate r.
- throttled_share_<r>: 429 answers divided by all SendEmail calls.
- duplicates_<r>, lost_<r>: readers with two copies; readers not sent, failed with a reason or suppressed.
- cpu_ms_per_copy_<r>, machine_ceiling_per_second_<r>: CPU the whole run (senders, moto, the SES stand-in)
  spent per accepted copy, and the copies a second this machine's cores could carry at that cost. Where
  the ceiling is below the rate, quota_share_<r> measures the machine, not the pacing.
- The senders run at niceness SENDER_NICENESS: in AWS they never compete with DynamoDB, SQS or SES for
  a CPU, and here the one-at-a-time DynamoDB stand-in would otherwise wait behind 40 of them.
- faults_*: at 14/s with 2% of SendEmail calls answered 500, 20% of messages delivered twice and one
  sender killed mid-batch (visibility, and the lease with it, compressed to 30 s so the kill resolves).
"""
from __future__ import annotations

import argparse
import json
import math

from bench import record
from bench.harness import run as harness
from chalicelib import send_run, wiring
from infra import package

ROUNDS = {14: 3, 50: 4, 200: 4}
TARGETS = {"quota_share": 0.95, "throttled_share": 0.005}
SENDER_NICENESS = 10  # the stand-ins take the CPU first, as AWS's own machines would (harness.Scenario)


def template_for(rate: float):
    out = package.DIST / f"bench-{rate:g}"
    package.build(rate, out)
    return out / "sam.json"


def audience(rate: float, rounds: int) -> int:
    return wiring.send_concurrency(rate) * send_run.RECIPIENTS_PER_MESSAGE * rounds


def summary(result: dict) -> dict:
    return {k: v for k, v in result.items() if k not in ("copies_by_recipient", "outcomes_by_recipient")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", type=float, nargs="*", default=sorted(ROUNDS))
    parser.add_argument("--no-faults", action="store_true")
    args = parser.parse_args()
    figures = {}
    for rate in args.rates:
        template = template_for(rate)
        n = audience(rate, ROUNDS.get(int(rate), max(1, math.ceil(60 * rate / audience(rate, 1)))))
        result = harness.run(harness.Scenario(subscribers=n, template=template, sender_niceness=SENDER_NICENESS))
        print(json.dumps(summary(result)), flush=True)
        r = f"{rate:g}"
        figures.update({f"quota_share_{r}": round(result["quota_share"], 4),
                        f"throttled_share_{r}": round(result["throttled_share"], 4),
                        f"duplicates_{r}": result["duplicates"], f"lost_{r}": result["lost"],
                        f"send_audience_{r}": n, f"send_seconds_{r}": result["elapsed_seconds"],
                        f"cpu_ms_per_copy_{r}": result["cpu_ms_per_copy"],
                        f"machine_ceiling_per_second_{r}": result["machine_ceiling_per_second"]})
    if not args.no_faults:
        result = harness.run(harness.Scenario(
            subscribers=audience(14, 2), template=template_for(14), error_share=0.02, duplicate_share=0.2,
            kill_after_accepted=120, visibility_seconds=30, sender_niceness=SENDER_NICENESS))
        print(json.dumps(summary(result)), flush=True)
        figures.update({"faults_duplicates": result["duplicates"], "faults_lost": result["lost"],
                        "faults_killed": result["killed"], "faults_ses_errors": result["ses_errors"],
                        "faults_failed": result["failed"], "faults_sent": result["sent"],
                        "faults_failure_reasons": result["failure_reasons"]})
    record(figures)
    for name, value in sorted(figures.items()):
        print(f"{name:28} {value}")


if __name__ == "__main__":
    main()
