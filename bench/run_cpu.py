"""PeerPost's own CPU per recipient: the real send handler against a bare loop, AWS stubbed at HTTP.

DynamoDB and SQS are moto's servers in other processes and SES is the loopback stand-in
(bench/harness/sesstub.py, no latency, no limit), so this process's CPU time (time.process_time)
is PeerPost's and its AWS clients', and nothing of AWS's. Both loops make real HTTP requests:

- real: `send_newsletter`, the handler Lambda calls, on every message a real dispatch queued
  (subscriber reads, claims, links, personalisation, SES, outcomes and counters);
- bare: per recipient only what any once-only sender must do: the claim (one conditional PutItem)
  and the SendEmail of a message of the same size.

cpu_real_vs_bare_ratio is the headline (target at most 1.25). The older pipeline_vs_bare_ratio
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

SUBSCRIBERS = 2000
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
        from chalicelib import aws, issue_rendering, settings

        settings.reset()
        aws.reset()
        issue_id, emails = harness._prepare_aws(deployment, deployment.visibility_timeout, args.subscribers)
        harness._dispatch(issue_id)
        sqs, url = aws.sqs(), aws.queue_url(settings.get_settings().send_queue)
        handler = app.handler_map["send_newsletter"]
        real_cpu, sent = 0.0, 0
        while True:
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=deployment.batch_size,
                                           WaitTimeSeconds=0, AttributeNames=["All"]).get("Messages", [])
            if not messages:
                break
            event = worker.sqs_event(messages, "arn:aws:sqs:eu-west-2:123456789012:peerpost-send")
            start = time.process_time()
            result = handler(event, worker.Context(deployment.timeout_seconds))
            real_cpu += time.process_time() - start
            assert not result["batchItemFailures"], result  # nosec B101 - a benchmark's own check
            for m in messages:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
                sent += len(json.loads(m["Body"])["recipients"])
        raw = issue_rendering.prepared(issue_id).message.personalise(emails[0], {
            "name": " Reader 0", "preferences_url": "https://peerpost.example.org/preferences/" + "x" * 80,
            "unsubscribe_url": "https://peerpost.example.org/unsubscribe/" + "x" * 80}, "bench.0")
        table, ses = aws.table(), aws.sesv2()
        start = time.process_time()
        for i, email in enumerate(emails):
            table.put_item(Item={"PK": "ISSUE#bare", "SK": f"DELIVERY#{i}", "status": "sending", "batch": "b"},
                           ConditionExpression="attribute_not_exists(PK)")
            ses.send_email(FromEmailAddress="news@peerpost.example.org", Destination={"ToAddresses": [email]},
                           Content={"Raw": {"Data": raw}})
        bare_cpu = time.process_time() - start
    finally:
        stub.terminate()
        stub.wait(10)
        moto.stop()
    figures = {"cpu_real_ms_per_recipient": round(real_cpu * 1000 / sent, 4),
               "cpu_bare_ms_per_recipient": round(bare_cpu * 1000 / len(emails), 4),
               "cpu_real_vs_bare_ratio": round((real_cpu / sent) / (bare_cpu / len(emails)), 3)}
    report(figures, f"target: at most {TARGET}")


if __name__ == "__main__":
    main()
