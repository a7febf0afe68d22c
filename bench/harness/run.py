"""Runs one send through the deployed configuration on loopback and reports what happened to everyone.

The parent process plays the rest of AWS: moto's server twice, in processes of their own (DynamoDB in
one, taking one request at a time as DynamoDB applies each write atomically; SQS, SSM and the rest in
the other), the SES stand-in in another, the dispatch Lambda (the real `dispatch_issue` handler), and Lambda's
scaling: it keeps the template's MaximumConcurrency of sender workers running (or fewer, if asked),
and starts a new one when one is killed. Only the harness's own choices are faults: duplicate
deliveries, SES throttling, errors and timeouts, a killed worker, and (to keep a kill short enough to
test) a compressed visibility timeout, which the delivery lease then follows, as the contract says.
"""
from __future__ import annotations

import json
import multiprocessing
import os
import random
import signal
import socket
import subprocess  # nosec B404 - runs this interpreter only
import sys
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench.harness import deployed, worker

ROOT = deployed.ROOT
REGION = "eu-west-2"
SECRET_PARAMETER_VALUE = "bench-signing-secret"  # nosec B105 - a loopback benchmark's own secret


@dataclass
class Scenario:
    subscribers: int
    template: Path = deployed.TEMPLATE
    workers: int | None = None  # default: the template's MaximumConcurrency
    latency_ms: tuple[float, float] = (20, 80)
    throttle_share: float = 0.0
    error_share: float = 0.0
    timeout_share: float = 0.0
    duplicate_share: float = 0.0  # queue messages SQS delivers twice
    kill_after_accepted: int | None = None  # SIGKILL a worker inside a batch once this many copies are out
    visibility_seconds: int | None = None  # compress the send queue's visibility (and the lease with it)
    deadline_seconds: float = 900
    seed: int = 16
    extra_env: dict = field(default_factory=dict)
    # In AWS the senders never share a CPU with DynamoDB, SQS or SES; here they do, and 40 of them
    # outnumber the one-at-a-time DynamoDB server for the cores, which then answers late to all of
    # them. A niceness (10, say) lets the stand-ins take the CPU first, as their own machines would.
    sender_niceness: int = 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).read()  # nosec B310 - loopback http only
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _start_moto(port: int, serial: bool = False) -> subprocess.Popen:
    process = subprocess.Popen(  # nosec B603 - this interpreter and our own module
        [sys.executable, "-m", "bench.harness.motoserver", "--port", str(port), *(["--serial"] if serial else [])],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_for(f"http://127.0.0.1:{port}/moto-api/")
    return process


@dataclass
class Moto:
    """DynamoDB in one moto server, everything else (SQS, SSM, SNS, S3) in another."""

    dynamodb_port: int
    other_port: int
    processes: tuple[subprocess.Popen, ...]

    @classmethod
    def start(cls) -> "Moto":
        dynamodb_port, other_port = _free_port(), _free_port()
        return cls(dynamodb_port, other_port, (_start_moto(dynamodb_port, serial=True), _start_moto(other_port)))

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
            process.wait(10)


def cpu_seconds(pid: int) -> float:
    """User and system CPU a live process has used so far (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _start_stub(rate: float, scenario: Scenario) -> tuple[subprocess.Popen, int]:
    process = subprocess.Popen(  # nosec B603 - this interpreter and our own module
        [sys.executable, "-m", "bench.harness.sesstub", "--rate", str(rate),
         "--latency-ms", *(str(v) for v in scenario.latency_ms), "--throttle-share", str(scenario.throttle_share),
         "--error-share", str(scenario.error_share), "--timeout-share", str(scenario.timeout_share),
         "--seed", str(scenario.seed)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    return process, int(process.stdout.readline())


def _stub_stats(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stub/stats", timeout=30) as answer:  # nosec B310
        return json.loads(answer.read())


def _environment(deployment: deployed.SendDeployment, moto: Moto, stub_port: int, extra: dict) -> dict:
    return {
        **deployment.environment, **extra,
        "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",  # nosec B105 - moto's fake keys
        "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION,
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{moto.other_port}",
        "AWS_ENDPOINT_URL_DYNAMODB": f"http://127.0.0.1:{moto.dynamodb_port}",
        "AWS_ENDPOINT_URL_SESV2": f"http://127.0.0.1:{stub_port}",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }


def _prepare_aws(deployment: deployed.SendDeployment, visibility: int, subscribers: int) -> tuple[str, list[str]]:
    """The stack as deployed (queues with the template's visibility and redrive), an issue, an audience."""
    import boto3

    from chalicelib import aws, clock, keys, subscriptions
    from localdev import demo_newsletter, stack
    from localdev.demo_events import seed_events

    session = boto3.session.Session(region_name=REGION)
    created = stack.create_all(session)
    sqs = session.client("sqs")
    dlq_arn = sqs.get_queue_attributes(QueueUrl=created["SendDeadLetterQueue"],
                                       AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sqs.set_queue_attributes(QueueUrl=created["SendQueue"], Attributes={
        "VisibilityTimeout": str(visibility),
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn,
                                     "maxReceiveCount": str(deployment.max_receive_count)})})
    session.client("ssm").put_parameter(Name=deployment.environment["PEERPOST_SIGNING_SECRET_PARAMETER"],
                                        Value=SECRET_PARAMETER_VALUE, Type="SecureString")
    now = clock.iso()
    emails = [f"reader{i}@example.org" for i in range(subscribers)]
    with aws.table().batch_writer() as batch:
        for i, email in enumerate(emails):
            sid = subscriptions.email_id(email)
            batch.put_item(Item={**keys.subscriber(sid), **keys.subscriber_index("confirmed", now, sid),
                                 "email": email, "first_name": f"Reader {i}", "topics": ["newsletter"],
                                 "status": "confirmed", "created_at": now})
    seed_events()
    return demo_newsletter.seed()["issue_id"], emails


def _duplicating(sqs, share: float, rng: random.Random) -> None:
    """SQS delivers at least once: this share of the send queue's messages arrives twice."""
    original = sqs.send_message_batch

    def send_message_batch(QueueUrl, Entries):
        doubled = [*Entries, *({**e, "Id": f"{e['Id']}d"} for e in Entries if rng.random() < share)]
        for start in range(0, len(doubled), 10):
            result = original(QueueUrl=QueueUrl, Entries=doubled[start:start + 10])
            if result.get("Failed"):
                return result
        return {"Successful": [], "Failed": []}

    sqs.send_message_batch = send_message_batch


def _dispatch(issue_id: str) -> None:
    """The coordinator presses send; the dispatch function (the real handler) takes the message."""
    from app import app
    from chalicelib import aws, send_run, settings

    if not send_run.start(issue_id, by="bench"):
        raise RuntimeError("the send did not start")
    sqs, url = aws.sqs(), aws.queue_url(settings.get_settings().dispatch_queue)
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, WaitTimeSeconds=1,
                                       AttributeNames=["All"]).get("Messages", [])
        if not messages:
            return
        app.handler_map["dispatch_issue"](worker.sqs_event(messages, arn), worker.Context(300))
        sqs.delete_message(QueueUrl=url, ReceiptHandle=messages[0]["ReceiptHandle"])


def _outcomes(issue_id: str) -> dict[str, dict]:
    """Each recipient's delivery as the design reads it: a claim still "sending" whose message was counted is sent."""
    from boto3.dynamodb.conditions import Key

    from chalicelib import aws, dynamo, keys

    counted = aws.table().get_item(Key=keys.issue(issue_id), ConsistentRead=True)["Item"].get("counted", set())
    found = {}
    for item in dynamo.query_items(KeyConditionExpression=Key("PK").eq(keys.issue(issue_id)["PK"])
                                & Key("SK").begins_with("DELIVERY#"), ConsistentRead=True):
        status = item["status"]
        if status == "sending":
            status = "sent" if item.get("batch") in counted else "sending"
        found[item["recipient_id"]] = {"status": status, "reason": item.get("reason", "")}
    return found


class Workers:
    """Lambda's scaling for the send function: `count` pollers, a new one for each that dies."""

    def __init__(self, count: int, deployment: deployed.SendDeployment, env: dict, lease: int | None,
                 niceness: int = 0) -> None:
        self.context = multiprocessing.get_context("spawn")
        self.stop = self.context.Event()
        self.args = (env, deployment.batch_size, deployment.timeout_seconds)
        self.lease, self.niceness = lease, niceness
        self.slots = [self._start() for _ in range(count)]
        self.killed = 0

    def _start(self):
        status = self.context.Value("i", -1)
        process = self.context.Process(target=worker.run, args=(*self.args, status, self.stop, self.lease, self.niceness),
                                       daemon=True)
        process.start()
        return process, status

    def wait_ready(self, seconds: float = 120) -> None:
        deadline = time.monotonic() + seconds
        while any(status.value == -1 for _, status in self.slots):
            if time.monotonic() > deadline or any(not p.is_alive() for p, _ in self.slots):
                raise RuntimeError("a sender worker did not start")
            time.sleep(0.1)

    def kill_one_in_a_batch(self) -> bool:
        for index, (process, status) in enumerate(self.slots):
            if status.value == 1:
                os.kill(process.pid, signal.SIGKILL)
                process.join(10)
                self.killed += 1
                self.slots[index] = self._start()  # Lambda starts another instance
                return True
        return False

    def close(self) -> None:
        self.stop.set()
        for process, _ in self.slots:
            process.join(5)
            if process.is_alive():
                process.kill()
                process.join(5)


def run(scenario: Scenario) -> dict:
    deployment = deployed.read(scenario.template)
    rate = float(deployment.environment["PEERPOST_SEND_RATE_PER_SECOND"])
    visibility = scenario.visibility_seconds or deployment.visibility_timeout
    moto = Moto.start()
    stub, stub_port = _start_stub(rate, scenario)
    env = _environment(deployment, moto, stub_port, scenario.extra_env)
    saved = dict(os.environ)
    # Quiet logs are for the workers: a powertools Logger made here at WARNING would set the shared
    # "peerpost" logger's level for the rest of this process (the tests after this one).
    os.environ.update({name: value for name, value in env.items() if name != "POWERTOOLS_LOG_LEVEL"})
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"  # the parent's own EMF lines (seeding) would flood stdout
    sys.path.insert(0, str(ROOT))
    workers = None
    try:
        from chalicelib import aws, delivery, issue_rendering, issues, keys, send_run, settings, subscriptions

        from aws_lambda_powertools.utilities import parameters

        from chalicelib import mail

        # A fresh AWS on new ports: forget every client, sender, secret and rendering of a run before.
        settings.reset()
        aws.reset()
        mail.use_sender(None)
        parameters.clear_caches()
        issue_rendering.prepared.cache_clear()
        issue_rendering.consent_watch.reset()
        issue_id, emails = _prepare_aws(deployment, visibility, scenario.subscribers)
        count = scenario.workers or deployment.max_concurrency
        workers = Workers(count, deployment, env, visibility if scenario.visibility_seconds else None,
                          scenario.sender_niceness)
        workers.wait_ready()
        if scenario.duplicate_share:
            _duplicating(aws.sqs(), scenario.duplicate_share, random.Random(scenario.seed))  # nosec B311
        parts = {"moto_dynamodb": moto.processes[0].pid, "moto_other": moto.processes[1].pid, "ses_stub": stub.pid}

        def cpu_now() -> dict[str, float]:
            return {**{name: cpu_seconds(pid) for name, pid in parts.items()},
                    "senders": sum(cpu_seconds(process.pid) for process, _ in workers.slots),
                    "harness": time.process_time()}

        started, cpu_at_start, load_at_start = time.time(), cpu_now(), os.getloadavg()
        _dispatch(issue_id)
        killed_at = None
        deadline = time.monotonic() + scenario.deadline_seconds
        while time.monotonic() < deadline:
            time.sleep(0.5)
            if scenario.kill_after_accepted and not workers.killed:
                accepted = len(_stub_stats(stub_port)["accepted"])
                if accepted >= scenario.kill_after_accepted and workers.kill_one_in_a_batch():
                    killed_at = accepted
            if issues.get(issue_id)["status"] == "sent":
                break
        elapsed = time.time() - started
        cpu = {name: value - cpu_at_start[name] for name, value in cpu_now().items()}
        load_at_end = os.getloadavg()
        progress = send_run.progress(issue_id)
        issue = aws.table().get_item(Key=keys.issue(issue_id), ConsistentRead=True)["Item"]
        stats = _stub_stats(stub_port)
        outcomes = _outcomes(issue_id)
        dead_letters = int(aws.sqs().get_queue_attributes(
            QueueUrl=aws.queue_url(f"{settings.get_settings().send_queue}-dlq"),
            AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]["ApproximateNumberOfMessages"])
        ids = {subscriptions.email_id(e): e for e in emails}
    finally:
        if workers is not None:
            workers.close()
        stub.terminate()
        stub.wait(10)
        moto.stop()
        os.environ.clear()
        os.environ.update(saved)
    readers = set(emails)  # the demo's own mail (event confirmations while seeding) is not the send's
    copies = Counter(recipient for _, recipient in stats["accepted"] if recipient in readers)
    finals = {rid: o for rid, o in outcomes.items() if o["status"] in delivery.FINAL}
    times = sorted(t for t, recipient in stats["accepted"] if recipient in readers)
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    statuses = Counter(o["status"] for o in finals.values())
    # What one copy costs the whole machine (senders, moto, the SES stand-in, the harness), and so the
    # most copies a second these cores could carry if nothing else ran: above it, no pacing helps.
    cpu_ms_per_copy = sum(cpu.values()) * 1000 / max(1, len(times))
    return {
        "rate": rate, "subscribers": scenario.subscribers, "workers": count, "killed": workers.killed,
        "killed_at_accepted": killed_at, "visibility_seconds": visibility,
        "elapsed_seconds": round(elapsed, 1), "issue_status": progress.get("status", ""),
        "issue_remaining": int(issue.get("remaining", 0)), "messages_counted": len(issue.get("counted", ())),
        "last_copy_to_end_seconds": round(started + elapsed - times[-1], 1) if times else None,
        # Cores each part kept busy from dispatch to the end (CPU seconds / elapsed; senders: the live
        # workers together, a killed one's time is gone), against what the machine has and its load.
        "cores_busy": {name: round(value / max(elapsed, 1e-9), 2) for name, value in cpu.items()},
        "cpu_ms_per_copy": round(cpu_ms_per_copy, 2),
        "machine_ceiling_per_second": round((os.cpu_count() or 1) * 1000 / max(cpu_ms_per_copy, 1e-9), 1),
        "cores": os.cpu_count(), "load_average": [round(v, 2) for v in (*load_at_start, *load_at_end)],
        "sent": statuses["sent"], "failed": statuses["failed"], "suppressed": statuses["suppressed"],
        "lost": sum(1 for rid in ids if rid not in finals), "dead_letters": dead_letters,
        "duplicates": sum(1 for n in copies.values() if n > 1),
        "sent_without_a_copy": sum(1 for rid, o in finals.items() if o["status"] == "sent" and not copies[ids[rid]]),
        "copies": sum(copies.values()), "ses_calls": stats["calls"], "throttled": stats["throttled"],
        "ses_errors": stats["errors"], "ses_timeouts": stats["timeouts"],
        "throttled_share": stats["throttled"] / max(1, stats["calls"]),
        "quota_share": ((len(times) - 1) / span / rate) if span else 0.0,
        "accepted_per_second": [n for _, n in sorted(Counter(int(t - times[0]) for t in times).items())],
        "failure_reasons": dict(Counter(o["reason"].split(":")[0] for o in finals.values() if o["status"] == "failed")),
        "copies_by_recipient": {ids[rid]: copies[ids[rid]] for rid in ids},
        "outcomes_by_recipient": {ids[rid]: finals.get(rid, {}).get("status", "") for rid in ids},
    }


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=300)
    parser.add_argument("--template", type=Path, default=deployed.TEMPLATE)
    parser.add_argument("--workers", type=int)
    parser.add_argument("--throttle-share", type=float, default=0.0)
    parser.add_argument("--error-share", type=float, default=0.0)
    parser.add_argument("--timeout-share", type=float, default=0.0)
    parser.add_argument("--duplicate-share", type=float, default=0.0)
    parser.add_argument("--kill-after-accepted", type=int)
    parser.add_argument("--visibility-seconds", type=int)
    parser.add_argument("--sender-niceness", type=int, default=0)
    args = parser.parse_args()
    result = run(Scenario(args.subscribers, args.template, args.workers, throttle_share=args.throttle_share,
                          error_share=args.error_share, timeout_share=args.timeout_share,
                          duplicate_share=args.duplicate_share, kill_after_accepted=args.kill_after_accepted,
                          visibility_seconds=args.visibility_seconds, sender_niceness=args.sender_niceness))
    result.pop("copies_by_recipient")
    result.pop("outcomes_by_recipient")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
