"""Rate limits kept as atomic, conditional DynamoDB counters: fixed windows of hits, and runs of
failures that slow a caller down (sign-in). Subjects are hashed before they reach a key."""
from __future__ import annotations

from chalicelib import aws, clock, dynamo, keys
from chalicelib.errors import RateLimited
from chalicelib.signing_secret import keyed_hash

_NO_WINDOW = 0  # a failure run is one item per subject, kept until it is cleared or forgotten


def _key(scope: str, subject: str, window: int) -> dict:
    return keys.rate_counter(scope, keyed_hash("rate", subject), window)


def allow(scope: str, subject: str, limit: int, window_seconds: int = 3600) -> bool:
    """Count one hit; False once `limit` hits fell in the current window."""
    window = clock.epoch() // window_seconds
    if not dynamo.update_if(
        Key=_key(scope, subject, window),
        UpdateExpression="ADD hits :one SET expires_at = if_not_exists(expires_at, :exp)",
        ConditionExpression="attribute_not_exists(hits) OR hits < :limit",
        ExpressionAttributeValues={":one": 1, ":limit": limit, ":exp": (window + 1) * window_seconds + 60},
    ):
        return False
    return True


def give_back(scope: str, subject: str, window_seconds: int = 3600) -> None:
    """Uncount a hit allow() counted, for an attempt that turned out to be legitimate."""
    dynamo.update_if(
        Key=_key(scope, subject, clock.epoch() // window_seconds), UpdateExpression="ADD hits :minus",
        ConditionExpression="hits > :zero", ExpressionAttributeValues={":minus": -1, ":zero": 0})


def seconds_left(window_seconds: int = 3600) -> int:
    return window_seconds - clock.epoch() % window_seconds


def enforce(scope: str, subject: str, limit: int, window_seconds: int = 3600) -> None:
    if not allow(scope, subject, limit, window_seconds):
        raise RateLimited("Too many requests from here. Please wait a while and try again.",
                          retry_after_seconds=seconds_left(window_seconds))


def failures(scope: str, subject: str) -> tuple[int, int]:
    """How many failures in a row, and when the last one was (epoch seconds)."""
    item = aws.table().get_item(Key=_key(scope, subject, _NO_WINDOW), ConsistentRead=True).get("Item") or {}
    if int(item.get("expires_at", 0)) < clock.epoch():
        return 0, 0  # DynamoDB's TTL deletes lazily
    return int(item.get("failures", 0)), int(item.get("last_at", 0))


def record_failures(scope: str, subject: str, count: int, forget_after_seconds: int) -> None:
    """Set the run to `count` failures, the last one now (a set, not an add: an expired run starts again)."""
    now = clock.epoch()
    aws.table().put_item(Item={**_key(scope, subject, _NO_WINDOW), "failures": count, "last_at": now,
                               "expires_at": now + forget_after_seconds})


def clear(scope: str, subject: str) -> None:
    aws.table().delete_item(Key=_key(scope, subject, _NO_WINDOW))
