"""Lazily built AWS clients, so tests and local mode can point them at moto first.

Clients are thread-safe and shared; boto3 resources are not, so each thread gets its own Table.
"""
from __future__ import annotations

import functools
import threading

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
