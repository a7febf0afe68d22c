"""Fixed-window rate limits kept as atomic, conditional DynamoDB counters."""
from __future__ import annotations

from chalicelib import aws, clock, keys
from chalicelib.errors import RateLimited
from chalicelib.secrets import keyed_hash


def allow(scope: str, subject: str, limit: int, window_seconds: int = 3600) -> bool:
    """Count one hit; False once `limit` hits fell in the current window. Subjects are hashed."""
    from botocore.exceptions import ClientError

    now = clock.epoch()
    window = now // window_seconds
    try:
        aws.table().update_item(
            Key=keys.rate_counter(scope, keyed_hash("rate", subject), window),
            UpdateExpression="ADD hits :one SET expires_at = if_not_exists(expires_at, :exp)",
            ConditionExpression="attribute_not_exists(hits) OR hits < :limit",
            ExpressionAttributeValues={":one": 1, ":limit": limit, ":exp": (window + 1) * window_seconds + 60},
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise
    return True


def enforce(scope: str, subject: str, limit: int, window_seconds: int = 3600) -> None:
    if not allow(scope, subject, limit, window_seconds):
        raise RateLimited("Too many requests from here. Please wait a while and try again.")
