"""Newsletter benchmark: render time, per-recipient CPU and AWS requests, pipeline vs a bare SES loop,
peak memory. `make bench` (10,000 subscribers); `make bench-100k` adds peak memory at 100,000.

- render_ms: median of 200 renders of the seed issue (Jinja -> MJML -> HTML, plus plain text).
- personalise_ms_per_recipient: CPU (process time) per recipient for signing its links, substituting
  them into the prepared MIME and building the SESv2 request; the AWS call itself is stubbed out.
- *_per_recipient: AWS requests counted at botocore during a real 10,000-subscriber send.
- pipeline_vs_bare_ratio: wall time of that send through the real handlers (dispatch + send, via the
  local runner) against moto in-process, divided by a bare loop of SESv2 SendEmail (Raw) calls with a
  message of the same size to the same moto. Pacing is off here (the send rate is set very high).
- peak_mb_N: peak RSS of a process that runs dispatch and send for N subscribers, with DynamoDB and
  SQS in a separate moto server process (so the database is not counted) and SES stubbed.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess  # nosec B404 - runs this interpreter and moto, nothing from input
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REGION = "eu-west-2"
# Fake credentials and secret: the benchmark talks to moto only.
ENV = {
    "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_SESSION_TOKEN": "bench",  # nosec B105
    "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION, "PEERPOST_STAGE": "bench",
    "PEERPOST_SIGNING_SECRET": "bench-secret",  # nosec B105
    "PEERPOST_PUBLIC_BASE_URL": "https://peerpost.example.org",
    "POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": "WARNING",
    "PEERPOST_SEND_RATE_PER_SECOND": "1000000000",
}
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}
READS = {"GetItem", "Query", "BatchGetItem", "Scan", "TransactGetItems"}


def configure() -> None:
    os.environ.update(ENV)
    os.environ.pop("AWS_ENDPOINT_URL", None)
    sys.path.insert(0, str(ROOT))


class Calls:
    """Counts every AWS request made through botocore, by (service, operation)."""

    def __init__(self) -> None:
        from botocore.client import BaseClient

        self.counts: Counter = Counter()
        original = BaseClient._make_api_call
        calls = self

        def counting(client, operation, params):
            calls.counts[(client.meta.service_model.service_name, operation)] += 1
            return original(client, operation, params)

        BaseClient._make_api_call = counting

    def total(self, service: str, operations: set[str] | None = None) -> int:
        return sum(n for (s, op), n in self.counts.items() if s == service and (operations is None or op in operations))


def discard_sent_mail() -> None:
    """moto keeps every sent message; at 10,000 x 45 kB that is the benchmark's memory, not ours."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    class Discard(list):
        def append(self, item) -> None:
            pass

    ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages = Discard()


def seed_subscribers(n: int) -> None:
    from chalicelib import aws, clock, keys, subscriptions

    now = clock.iso()
    with aws.table().batch_writer() as batch:
        for i in range(n):
            email = f"reader{i}@example.org"
            sid = subscriptions.email_id(email)
            batch.put_item(Item={**keys.subscriber(sid), **keys.subscriber_index("confirmed", now, sid),
                                 "email": email, "first_name": f"Reader {i}", "topics": ["newsletter"],
                                 "status": "confirmed", "created_at": now})


def seed_issue() -> dict:
    from localdev import demo_newsletter

    return demo_newsletter.seed()


def measure_render(issue: dict, runs: int = 200) -> tuple[float, float]:
    """(render alone, render including its reads): the diary and stories are read at render time;
    against moto a Query costs milliseconds, against DynamoDB a few."""
    from chalicelib import newsletter

    def median(render) -> float:
        render()
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            render()
            times.append((time.perf_counter() - start) * 1000)
        return statistics.median(times)

    with_reads = median(lambda: newsletter.render(issue))
    diary, shareable = newsletter._diary, newsletter.shareable_story
    entries, stories = diary(), {}
    newsletter._diary = lambda: entries
    newsletter.shareable_story = lambda story_id, channel: stories.setdefault((story_id, channel),
                                                                         shareable(story_id, channel))
    try:
        alone = median(lambda: newsletter.render(issue))
    finally:
        newsletter._diary, newsletter.shareable_story = diary, shareable
    return alone, with_reads


def measure_personalise(issue: dict, n: int = 3000) -> float:
    from chalicelib import issue_rendering, mail, newsletter, subscriptions

    rendered = newsletter.render(issue)
    prepared = mail.PreparedMessage(issue_rendering.outgoing(rendered.subject, rendered.html, rendered.text,
                                                             rendered.markers), rendered.markers)

    class NoCall:
        def send_email(self, **request):
            return {"MessageId": "stub"}

    sender = mail.SesSender(client=NoCall())
    ids = [subscriptions.email_id(f"reader{i}@example.org") for i in range(n)]
    start = time.process_time()
    for i, rid in enumerate(ids):
        links = subscriptions.links(rid)
        values = newsletter.personal_values(f"Reader {i}", links["preferences_url"], links["unsubscribe_url"])
        sender.send_raw(f"reader{i}@example.org", prepared.sender,
                        prepared.personalise(f"reader{i}@example.org", values, f"{issue['issue_id']}.{rid}"),
                        prepared.tags)
    return (time.process_time() - start) * 1000 / n


def run_send(issue_id: str) -> None:
    import boto3

    from app import app
    from chalicelib import send_run
    from localdev.runner import Runner

    if not send_run.start(issue_id, by="bench"):
        raise RuntimeError("the send did not start")
    Runner(app, boto3.session.Session(region_name=REGION)).drain_all(max_rounds=100_000)
    progress = send_run.progress(issue_id)
    if not progress["done"]:
        raise RuntimeError(f"the send did not finish: {progress}")


def bare_loop(n: int, raw: bytes) -> float:
    from chalicelib import aws

    client = aws.sesv2()
    start = time.perf_counter()
    for i in range(n):
        client.send_email(FromEmailAddress="news@peerpost.example.org",
                          Destination={"ToAddresses": [f"reader{i}@example.org"]}, Content={"Raw": {"Data": raw}})
    return time.perf_counter() - start


def claim_floor_loop(n: int, raw: bytes) -> float:
    """The bare loop plus the one conditional write per recipient the design requires (the claim):
    the least any once-only pipeline can cost against the same moto."""
    from chalicelib import aws

    client, table = aws.sesv2(), aws.table()
    start = time.perf_counter()
    for i in range(n):
        table.put_item(Item={"PK": "ISSUE#floor", "SK": f"DELIVERY#{i}", "status": "sending"},
                       ConditionExpression="attribute_not_exists(PK)")
        client.send_email(FromEmailAddress="news@peerpost.example.org",
                          Destination={"ToAddresses": [f"reader{i}@example.org"]}, Content={"Raw": {"Data": raw}})
    return time.perf_counter() - start


def in_process(n: int) -> dict:
    import boto3
    from moto import mock_aws

    from localdev import stack

    with mock_aws():
        stack.create_all(boto3.session.Session(region_name=REGION))
        discard_sent_mail()
        from localdev.demo_events import seed_events

        seed_events()  # the demo issue's "Dates for the diary"
        issue = seed_issue()
        render_ms, render_with_reads_ms = measure_render(issue)
        figures = {"render_ms": render_ms, "render_with_reads_ms": render_with_reads_ms,
                   "personalise_ms_per_recipient": measure_personalise(issue)}
        seed_subscribers(n)
        calls = Calls()
        start = time.perf_counter()
        run_send(issue["issue_id"])
        pipeline = time.perf_counter() - start
        counted = {"ses": calls.total("sesv2"), "writes": calls.total("dynamodb", WRITES),
                   "reads": calls.total("dynamodb", READS), "sqs": calls.total("sqs")}
        from chalicelib import issue_rendering

        raw = issue_rendering.prepared(issue["issue_id"]).message.personalise("reader0@example.org", {
            "name": " Reader 0", "preferences_url": "https://peerpost.example.org/preferences/" + "x" * 80,
            "unsubscribe_url": "https://peerpost.example.org/unsubscribe/" + "x" * 80}, "bench.0")
        bare = bare_loop(n, raw)
        floor = claim_floor_loop(n, raw)
        figures.update({
            "claim_floor_vs_bare_ratio": floor / bare,
            "pipeline_vs_claim_floor_ratio": pipeline / floor,
            "ses_calls_per_recipient": counted["ses"] / n,
            "ddb_writes_per_recipient": counted["writes"] / n,
            "ddb_reads_per_recipient": counted["reads"] / n,
            "sqs_calls_per_recipient": counted["sqs"] / n,
            "pipeline_vs_bare_ratio": pipeline / bare,
            "pipeline_seconds_10k": pipeline, "bare_ses_seconds_10k": bare,
        })
        return figures


def memory_child(n: int, moto_port: int) -> None:
    """Runs in its own process: seed n subscribers into the moto server, send, print peak RSS."""
    os.environ["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{moto_port}"
    import boto3

    from chalicelib import mail
    from localdev import stack

    stack.create_all(boto3.session.Session(region_name=REGION))
    seed_subscribers(n)
    issue = seed_issue()

    class Stub:
        def send_email(self, **request):
            return {"MessageId": "stub"}

    mail.use_sender(mail.SesSender(client=Stub()))
    run_send(issue["issue_id"])
    print(json.dumps({"peak_mb": _high_water_mb()}))


def _high_water_mb() -> float:
    """This process's peak RSS. Not getrusage: Linux carries ru_maxrss over fork and exec, so a
    child of the 10,000-subscriber in-process run would report that run's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak_mb(n: int) -> float:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, **ENV}
    server = subprocess.Popen([sys.executable, "-c", (  # nosec B603 - this interpreter, a fixed script
        "import logging; logging.getLogger('werkzeug').setLevel(logging.ERROR)\n"
        "from localdev import atomic; atomic.install()\n"
        "from moto.server import ThreadedMotoServer\n"
        f"s = ThreadedMotoServer(ip_address='127.0.0.1', port={port}, verbose=False); s.start()\n"
        "import time\nwhile True: time.sleep(60)\n")], cwd=ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(3)
        child = subprocess.run([sys.executable, "-m", "bench.run_newsletter", "--memory-child", str(n),  # nosec B603
                                "--moto-port", str(port)], cwd=ROOT, env=env, capture_output=True, text=True,
                               check=True)
        return json.loads(child.stdout.strip().splitlines()[-1])["peak_mb"]
    finally:
        server.terminate()
        server.wait(timeout=10)


TARGETS = {"render_ms": "<= 2", "personalise_ms_per_recipient": "<= 0.5", "ses_calls_per_recipient": "<= 1",
           "ddb_writes_per_recipient": "<= 1", "ddb_reads_per_recipient": "amortised",
           "pipeline_vs_bare_ratio": "<= 1.5", "peak_mb_10k": "< 200", "peak_mb_100k": "< 200"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--with-100k", action="store_true", help="also measure peak memory at 100,000")
    parser.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--moto-port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    configure()
    if args.memory_child:
        memory_child(args.memory_child, args.moto_port)
        return 0
    import bench

    figures = in_process(args.subscribers)
    figures["peak_mb_10k"] = peak_mb(10_000)
    if args.with_100k:
        figures["peak_mb_100k"] = peak_mb(100_000)
    figures = {k: round(v, 4) for k, v in figures.items()}
    bench.record(figures)
    width = max(map(len, figures))
    print(f"{'figure':<{width}}  {'measured':>12}  target")
    for key, value in figures.items():
        print(f"{key:<{width}}  {value:>12}  {TARGETS.get(key, '')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
