"""Lazily built AWS clients, so tests and local mode can point them at moto first.

Clients are thread-safe and shared; boto3 resources are not, so each thread gets its own Table.
"""
from __future__ import annotations

import functools
import random
import threading
import time
from typing import Callable

from chalicelib.settings import get_settings

_local = threading.local()
_generation = 0


@functools.cache
def _session():
    import boto3

    return boto3.session.Session(region_name=get_settings().region)


def table():
    cached = getattr(_local, "table", None)
    if cached is None or cached[0] != _generation:
        resource = _session().resource("dynamodb", region_name=get_settings().region)
        cached = (_generation, resource.Table(get_settings().table_name))
        _local.table = cached
    return cached[1]


def query_items(**kwargs):
    """Every item a table query matches, page by page: never the whole result in memory at once."""
    while True:
        page = table().query(**kwargs)
        yield from page["Items"]
        if "LastEvaluatedKey" not in page:
            return
        kwargs = {**kwargs, "ExclusiveStartKey": page["LastEvaluatedKey"]}


def query_count(**kwargs) -> int:
    """How many items a table query matches (Select COUNT, every page)."""
    total = 0
    while True:
        page = table().query(Select="COUNT", **kwargs)
        total += page["Count"]
        if "LastEvaluatedKey" not in page:
            return total
        kwargs = {**kwargs, "ExclusiveStartKey": page["LastEvaluatedKey"]}


BATCH_GET_ATTEMPTS = 8  # with the backoff below, about 6 s at most before giving up
BATCH_GET_BACKOFF = (0.05, 2.0)  # first wait and the longest, in seconds (full jitter, as AWS advises)


def batch_get(client, table_name: str, item_keys: list[dict], sleep: Callable[[float], None] | None = None,
              **options) -> list[dict]:
    """Every item of item_keys that exists, 100 keys to a BatchGetItem, retrying what DynamoDB leaves
    unprocessed a bounded number of times with backoff. Raises ReadsUnprocessed rather than return a
    partial answer: a key not read is not an item that is missing.

    item_keys are in whatever form `client` takes: typed for a plain client, plain for a resource's."""
    from chalicelib.errors import ReadsUnprocessed

    found: list[dict] = []
    first, longest = BATCH_GET_BACKOFF
    for start in range(0, len(item_keys), 100):
        request = {table_name: {"Keys": item_keys[start:start + 100], **options}}
        for attempt in range(BATCH_GET_ATTEMPTS):
            response = client.batch_get_item(RequestItems=request)
            found.extend(response["Responses"].get(table_name, []))
            request = response.get("UnprocessedKeys") or {}
            if not request:
                break
            if attempt + 1 < BATCH_GET_ATTEMPTS:
                (sleep or time.sleep)(random.uniform(0, min(longest, first * 2**attempt)))  # nosec B311 - jitter, not a secret
        if request:
            raise ReadsUnprocessed(f"{len(request[table_name]['Keys'])} keys left unprocessed")
    return found


@functools.cache
def dynamodb_client():
    return _session().client("dynamodb")


# botocore would resend a SendEmail whose answer timed out or whose connection closed: SES may have
# sent it, so that would be a second copy. mail.SesSender retries only what SES answered "no" to.
SES_READ_TIMEOUT_SECONDS = 10


@functools.cache
def sesv2():
    from botocore.config import Config

    return _session().client("sesv2", config=Config(
        retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=SES_READ_TIMEOUT_SECONDS))


@functools.cache
def sqs():
    return _session().client("sqs")


@functools.cache
def s3():
    return _session().client("s3")


@functools.cache
def queue_url(name: str) -> str:
    return sqs().get_queue_url(QueueName=name)["QueueUrl"]


def reset() -> None:
    """Drop every cached client (tests start a fresh moto per test)."""
    global _generation
    _generation += 1
    for cached in (_session, dynamodb_client, sesv2, sqs, s3, queue_url):
        cached.cache_clear()
