"""PeerPost's own CPU per recipient: the real send handler against a bare loop, AWS stubbed at HTTP.

DynamoDB and SQS are moto's servers in other processes and SES is the loopback stand-in
(bench/harness/sesstub.py, no latency, no limit), so this process's CPU time (time.process_time)
is PeerPost's and its AWS clients', and nothing of AWS's. Every loop makes real HTTP requests:

- real: `send_newsletter`, the handler Lambda calls, on every message a real dispatch queued
  (subscriber reads, claims, links, personalisation, SES, outcomes and counters), one copy at a time,
  as a deployed sender sends for all of a send at 14/s and all but its last seconds at 200/s (its
  share of the rate times the SES round trip is below one: delivery.InFlight);
- in flight: the same handler with settings.send_in_flight copies (8, as deployed) at SES at once
  from its thread pool, as the last senders of a fast send go (here the rate is unlimited, so the pool is always full);
- bare: per recipient only what any once-only sender must do: the claim (one conditional PutItem)
  and the SendEmail of a message of the same size.

The three take turns, a queue message's worth (100 recipients) at a time, so that the machine's noise
falls on them alike; each one's first turn is not counted, as a warm Lambda has paid it (the cold
start is bench/run_coldstart.py's). cpu_real_vs_bare_ratio is the headline (target at most 1.25);
cpu_in_flight_vs_bare_ratio is the cost of the pool. The older pipeline_vs_bare_ratio
(bench/run_newsletter.py) is wall time against moto in-process: it measures moto's cost per request.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

from bench import report
from bench.harness import deployed, run as harness, worker

SUBSCRIBERS = 3000
TARGET = 1.25


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=SUBSCRIBERS)
    args = parser.parse_args()
    from bench.run_send import template_for

    deployment = deployed.read(template_for(14))  # the package `make package` builds by default
    moto = harness.Moto.start()
    scenario = harness.Scenario(subscribers=args.subscribers, latency_ms=(0, 0))
    stub, stub_port = harness._start_stub(1e9, scenario)
    env = harness._environment(deployment, moto, stub_port, {"PEERPOST_SEND_RATE_PER_SECOND": "1000000000"})
    os.environ.update(env)
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
    sys.path.insert(0, str(harness.ROOT))
    try:
        from app import app
        from chalicelib import aws, issue_rendering, send_run, settings

        settings.reset()
        aws.reset()
        issue_id, emails = harness._prepare_aws(deployment, deployment.visibility_timeout, args.subscribers)
        harness._dispatch(issue_id)
        sqs, url = aws.sqs(), aws.queue_url(settings.get_settings().send_queue)
        handler = app.handler_map["send_newsletter"]
        raw = issue_rendering.prepared(issue_id).message.personalise(emails[0], {
            "name": " Reader 0", "preferences_url": "https://peerpost.example.org/preferences/" + "x" * 80,
            "unsubscribe_url": "https://peerpost.example.org/unsubscribe/" + "x" * 80}, "bench.0")
        table, ses = aws.table(), aws.sesv2()
        cpu = {"real": 0.0, "in_flight": 0.0, "bare": 0.0}
        recipients = {"real": 0, "in_flight": 0, "bare": 0}

        def real(messages: list[dict], mode: str, counted: bool) -> None:
            if mode == "real":
                os.environ[settings.ENV["send_in_flight"]] = "1"
            else:  # as deployed: the variable is not set
                os.environ.pop(settings.ENV["send_in_flight"], None)
            settings.reset()
            event = worker.sqs_event(messages, "arn:aws:sqs:eu-west-2:123456789012:peerpost-send")
            start = time.process_time()
            result = handler(event, worker.Context(deployment.timeout_seconds))
            spent = time.process_time() - start
            assert not result["batchItemFailures"], result  # nosec B101 - a benchmark's own check
            for m in messages:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            if counted:
                cpu[mode] += spent
                recipients[mode] += sum(len(json.loads(m["Body"])["recipients"]) for m in messages)

        def bare(first: int, count: int, counted: bool) -> None:
            start = time.process_time()
            for i in range(first, first + count):
                table.put_item(Item={"PK": "ISSUE#bare", "SK": f"DELIVERY#{i}", "status": "sending", "batch": "b"},
                               ConditionExpression="attribute_not_exists(PK)")
                ses.send_email(FromEmailAddress="news@peerpost.example.org", Destination={"ToAddresses": [emails[i]]},
                               Content={"Raw": {"Data": raw}})
            if counted:
                cpu["bare"] += time.process_time() - start
                recipients["bare"] += count

        turn = 0
        while True:
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=deployment.batch_size,
                                           WaitTimeSeconds=0, AttributeNames=["All"]).get("Messages", [])
            if not messages:
                break
            counted = turn >= 2  # each loop's first round warms it (lazy imports, first calls), as in a warm Lambda
            real(messages, ("real", "in_flight")[turn % 2], counted)
            if turn % 2:
                first = turn // 2 * send_run.RECIPIENTS_PER_MESSAGE
                bare(first, min(send_run.RECIPIENTS_PER_MESSAGE, len(emails) - first), counted)
            turn += 1
    finally:
        stub.terminate()
        stub.wait(10)
        moto.stop()
    per = {mode: cpu[mode] * 1000 / recipients[mode] for mode in cpu}
    figures = {"cpu_real_ms_per_recipient": round(per["real"], 4),
               "cpu_in_flight_ms_per_recipient": round(per["in_flight"], 4),
               "cpu_bare_ms_per_recipient": round(per["bare"], 4),
               "cpu_real_vs_bare_ratio": round(per["real"] / per["bare"], 3),
               "cpu_in_flight_vs_bare_ratio": round(per["in_flight"] / per["bare"], 3)}
    report(figures, f"target: at most {TARGET}")


if __name__ == "__main__":
    main()
