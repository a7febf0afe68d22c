"""One sender: polls the send queue as Lambda's SQS poller does and calls the deployed handler.

SQS semantics as Lambda uses them: up to BatchSize messages per receive (the queue's own visibility
timeout), the handler's batchItemFailures left on the queue to reappear when their visibility ends,
the rest deleted; a handler that raises leaves the whole batch. The Lambda context counts down from
the function's Timeout. `status` (shared with the harness) says when the worker is inside a batch.
"""
from __future__ import annotations

import os
import sys
import time
import uuid


class Context:
    """The parts of a Lambda context the handler reads; remaining time counts down from the timeout."""

    def __init__(self, timeout_seconds: int) -> None:
        self.function_name = "peerpost-bench-send_newsletter"
        self.memory_limit_in_mb = 512
        self.invoked_function_arn = "arn:aws:lambda:eu-west-2:123456789012:function:peerpost-bench-send_newsletter"
        self.aws_request_id = str(uuid.uuid4())
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def sqs_event(messages: list[dict], queue_arn: str) -> dict:
    return {"Records": [
        {"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
         "attributes": {"ApproximateReceiveCount": m["Attributes"]["ApproximateReceiveCount"],
                        "SentTimestamp": m["Attributes"].get("SentTimestamp", "0"),
                        "ApproximateFirstReceiveTimestamp": m["Attributes"].get("ApproximateFirstReceiveTimestamp", "0"),
                        "SenderId": "bench"},
         "messageAttributes": {}, "md5OfBody": m.get("MD5OfBody", ""), "eventSource": "aws:sqs",
         "eventSourceARN": queue_arn, "awsRegion": "eu-west-2"}
        for m in messages]}


def run(environment: dict, batch_size: int, timeout_seconds: int, status, stop, lease_seconds: int | None = None,
        niceness: int = 0, quiet: bool = True) -> None:
    """The worker process's body. `status`: a shared int (0 idle, 1 in a batch, -1 ready)."""
    os.environ.update(environment)
    if niceness:
        os.nice(niceness)  # the stand-ins first: see run.Scenario.sender_niceness
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    sys.path.insert(0, root)
    if quiet:
        devnull = open(os.devnull, "w")  # noqa: SIM115 - for the life of the process
        sys.stdout = devnull  # EMF metrics and log lines go to stdout in Lambda; nobody reads them here
    from app import app
    from chalicelib import aws, delivery

    if lease_seconds is not None:  # the harness compressed the queue's visibility: the lease follows it
        delivery.LEASE_SECONDS = lease_seconds
    handler = app.handler_map["send_newsletter"]
    sqs = aws.sqs()
    url = aws.queue_url(os.environ["PEERPOST_SEND_QUEUE"])
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    status.value = 0
    while not stop.is_set():
        received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=batch_size, WaitTimeSeconds=1,
                                       AttributeNames=["All"])
        messages = received.get("Messages", [])
        if not messages:
            continue
        status.value = 1
        try:
            result = handler(sqs_event(messages, arn), Context(timeout_seconds))
            failed = {f["itemIdentifier"] for f in (result or {}).get("batchItemFailures", [])}
        except Exception:  # the invocation failed: Lambda leaves the whole batch to reappear
            failed = {m["MessageId"] for m in messages}
        for m in messages:
            if m["MessageId"] not in failed:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        status.value = 0
