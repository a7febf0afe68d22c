"""Rate limits kept as atomic, conditional DynamoDB counters: fixed windows of hits, and runs of
failures that slow a caller down (sign-in). Subjects are hashed before they reach a key.

The rules (which window, when a run is forgotten) are here, so they can be tested against any
RateLimitStore and clock (`now`); the store only keeps the counts."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Protocol

from chalicelib import aws, clock, dynamo, keys
from chalicelib.errors import RateLimited
from chalicelib.signing_secret import keyed_hash

Clock = Callable[[], datetime]

_NO_WINDOW = 0  # a failure run is one item per subject, kept until it is cleared or forgotten


@dataclass(frozen=True)
class FailureRun:
    failures: int
    last_at: int
    expires_at: int


class RateLimitStore(Protocol):
    def count(self, scope: str, subject: str, window: int, limit: int, expires_at: int) -> bool: ...

    def uncount(self, scope: str, subject: str, window: int) -> None: ...

    def run(self, scope: str, subject: str) -> FailureRun | None: ...

    def set_run(self, scope: str, subject: str, run: FailureRun) -> None: ...

    def clear_run(self, scope: str, subject: str) -> None: ...


class DynamoRateLimitStore:
    """Counters as TTL'd items of the table; a hit is one conditional ADD, so parallel callers cannot overtake."""

    @staticmethod
    def _key(scope: str, subject: str, window: int) -> dict:
        return keys.rate_counter(scope, keyed_hash("rate", subject), window)

    def count(self, scope: str, subject: str, window: int, limit: int, expires_at: int) -> bool:
        return dynamo.update_if(
            Key=self._key(scope, subject, window),
            UpdateExpression="ADD hits :one SET expires_at = if_not_exists(expires_at, :exp)",
            ConditionExpression="attribute_not_exists(hits) OR hits < :limit",
            ExpressionAttributeValues={":one": 1, ":limit": limit, ":exp": expires_at},
        )

    def uncount(self, scope: str, subject: str, window: int) -> None:
        dynamo.update_if(
            Key=self._key(scope, subject, window), UpdateExpression="ADD hits :minus",
            ConditionExpression="hits > :zero", ExpressionAttributeValues={":minus": -1, ":zero": 0})

    def run(self, scope: str, subject: str) -> FailureRun | None:
        item = aws.table().get_item(Key=self._key(scope, subject, _NO_WINDOW), ConsistentRead=True).get("Item")
        if not item:
            return None
        return FailureRun(int(item.get("failures", 0)), int(item.get("last_at", 0)), int(item.get("expires_at", 0)))

    def set_run(self, scope: str, subject: str, run: FailureRun) -> None:
        aws.table().put_item(Item={**self._key(scope, subject, _NO_WINDOW), "failures": run.failures,
                                   "last_at": run.last_at, "expires_at": run.expires_at})

    def clear_run(self, scope: str, subject: str) -> None:
        aws.table().delete_item(Key=self._key(scope, subject, _NO_WINDOW))


def _epoch(now: Clock | None) -> int:
    return clock.epoch((now or clock.now)())


def allow(scope: str, subject: str, limit: int, window_seconds: int = 3600, *,
          store: RateLimitStore | None = None, now: Clock | None = None) -> bool:
    """Count one hit; False once `limit` hits fell in the current window."""
    window = _epoch(now) // window_seconds
    return (store or DynamoRateLimitStore()).count(scope, subject, window, limit,
                                                   expires_at=(window + 1) * window_seconds + 60)


def give_back(scope: str, subject: str, window_seconds: int = 3600, *,
              store: RateLimitStore | None = None, now: Clock | None = None) -> None:
    """Uncount a hit allow() counted, for an attempt that turned out to be legitimate."""
    (store or DynamoRateLimitStore()).uncount(scope, subject, _epoch(now) // window_seconds)


def seconds_left(window_seconds: int = 3600, *, now: Clock | None = None) -> int:
    return window_seconds - _epoch(now) % window_seconds


def enforce(scope: str, subject: str, limit: int, window_seconds: int = 3600, *,
            store: RateLimitStore | None = None, now: Clock | None = None) -> None:
    if not allow(scope, subject, limit, window_seconds, store=store, now=now):
        raise RateLimited("Too many requests from here. Please wait a while and try again.",
                          retry_after_seconds=seconds_left(window_seconds, now=now))


def failures(scope: str, subject: str, *, store: RateLimitStore | None = None,
             now: Clock | None = None) -> tuple[int, int]:
    """How many failures in a row, and when the last one was (epoch seconds)."""
    run = (store or DynamoRateLimitStore()).run(scope, subject)
    if run is None or run.expires_at < _epoch(now):
        return 0, 0  # DynamoDB's TTL deletes lazily
    return run.failures, run.last_at


def record_failures(scope: str, subject: str, count: int, forget_after_seconds: int, *,
                    store: RateLimitStore | None = None, now: Clock | None = None) -> None:
    """Set the run to `count` failures, the last one now (a set, not an add: an expired run starts again)."""
    at = _epoch(now)
    (store or DynamoRateLimitStore()).set_run(scope, subject, FailureRun(count, at, at + forget_after_seconds))


def clear(scope: str, subject: str, *, store: RateLimitStore | None = None) -> None:
    (store or DynamoRateLimitStore()).clear_run(scope, subject)
