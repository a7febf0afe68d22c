"""Fires every scheduled handler and drains every queue into the same handler functions Lambda calls."""
from __future__ import annotations

import threading
import time
import traceback
import uuid
from datetime import datetime, timezone

from chalice.app import ScheduledEventConfig, SQSEventConfig


class LambdaContext:
    """The bits of a Lambda context that handlers and powertools read."""

    def __init__(self, name: str) -> None:
        self.function_name = name
        self.memory_limit_in_mb = 512
        self.invoked_function_arn = f"arn:aws:lambda:eu-west-2:123456789012:function:{name}"
        self.aws_request_id = str(uuid.uuid4())

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


def scheduled_event(name: str) -> dict:
    return {
        "version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "123456789012", "time": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": "eu-west-2", "resources": [f"arn:aws:events:eu-west-2:123456789012:rule/{name}"], "detail": {},
    }


def sqs_event(messages: list[dict], queue_arn: str) -> dict:
    return {"Records": [
        {"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
         "attributes": {"ApproximateReceiveCount": m.get("Attributes", {}).get("ApproximateReceiveCount", "1"),
                        "SentTimestamp": str(int(time.time() * 1000))},
         "messageAttributes": {}, "md5OfBody": m.get("MD5OfBody", ""), "eventSource": "aws:sqs",
         "eventSourceARN": queue_arn, "awsRegion": "eu-west-2"}
        for m in messages
    ]}


class Runner:
    def __init__(self, app, session, tick_seconds: float = 5.0, retry_after_seconds: int = 5) -> None:
        self.app = app
        self.sqs = session.client("sqs")
        self.tick_seconds = tick_seconds
        self.retry_after_seconds = retry_after_seconds
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def _handler(self, config):
        return self.app.handler_map[config.name]

    def fire_schedules(self) -> None:
        for config in self.app.event_sources:
            if isinstance(config, ScheduledEventConfig):
                self._call(config.name, scheduled_event(config.name))

    def drain(self, config: SQSEventConfig, wait_seconds: int = 1) -> int:
        url = self.sqs.get_queue_url(QueueName=config.queue)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        received = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=min(10, config.batch_size),
                                            WaitTimeSeconds=wait_seconds, AttributeNames=["All"])
        messages = received.get("Messages", [])
        if not messages:
            return 0
        result = self._call(config.name, sqs_event(messages, arn))
        if result is None:  # the handler raised: the whole batch comes back later, as in Lambda
            failed = {m["MessageId"] for m in messages}
        else:
            failed = {f["itemIdentifier"] for f in (result or {}).get("batchItemFailures", [])}
        for m in messages:
            if m["MessageId"] in failed:
                self.sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"],
                                                   VisibilityTimeout=self.retry_after_seconds)
            else:
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        return len(messages)

    def _call(self, name: str, event: dict):
        try:
            return self.app.handler_map[name](event, LambdaContext(name)) or {}
        except Exception:
            print(f"[runner] handler {name} failed:\n{traceback.format_exc()}", flush=True)
            return None

    def drain_all(self, max_rounds: int = 1000) -> None:
        """Drain every queue until empty (tests and demos use this to finish a send)."""
        for _ in range(max_rounds):
            if not sum(self.drain(c, wait_seconds=0) for c in self._queues()):
                return

    def _queues(self) -> list[SQSEventConfig]:
        return [c for c in self.app.event_sources if isinstance(c, SQSEventConfig)]

    def start(self) -> None:
        def schedules() -> None:
            while not self._stop.wait(self.tick_seconds):
                self.fire_schedules()

        def queue_loop(config: SQSEventConfig) -> None:
            while not self._stop.is_set():
                try:
                    if not self.drain(config):
                        self._stop.wait(0.2)
                except Exception:
                    if not self._stop.is_set():
                        print(f"[runner] polling {config.queue} failed:\n{traceback.format_exc()}", flush=True)
                        self._stop.wait(1)

        self._threads.append(threading.Thread(target=schedules, name="schedules", daemon=True))
        for config in self._queues():
            self._threads.append(threading.Thread(target=queue_loop, args=(config,), name=config.queue, daemon=True))
        for thread in self._threads:
            thread.start()

    def stop(self, seconds: float = 5) -> None:
        """Ask every loop to stop and give them `seconds` together (not each) to finish what they run;
        they are daemon threads, so one still inside a handler does not keep the process alive."""
        self._stop.set()
        deadline = time.monotonic() + seconds
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
