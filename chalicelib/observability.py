"""Structured logs, EMF metrics and optional tracing (powertools), set up once and lazily.

Log lines carry ids, counts and outcomes only: never an address, a name or story text
(tests/pii_log_guard.py checks the logs of the whole test suite for them). Metric names are
chalicelib.wiring.Metric: count() takes nothing else.
"""
from __future__ import annotations

import functools
import os

from chalicelib.wiring import METRIC_NAMESPACE as NAMESPACE, SERVICE, Metric

_state = {"cold": True}


@functools.cache
def logger():
    from aws_lambda_powertools import Logger

    return Logger(service=SERVICE)


def count(metric: Metric, value: int = 1) -> None:
    """Emit one EMF count metric at once (no flush decorator needed on any handler)."""
    metric = Metric(metric)  # a free string that is no Metric fails here, in every test that reaches it
    if os.environ.get("POWERTOOLS_METRICS_DISABLED", "").lower() == "true":
        return
    from aws_lambda_powertools.metrics import MetricUnit, single_metric

    with single_metric(name=metric.value, unit=MetricUnit.Count, value=value, namespace=NAMESPACE) as metric:
        metric.add_dimension(name="service", value=SERVICE)


def tracing_enabled() -> bool:
    """Only in Lambda with the stack's Tracing parameter Active: a Tracer costs ~0.4 s of cold start."""
    return (os.environ.get("POWERTOOLS_TRACE_DISABLED", "true").lower() == "false"
            and bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME")))


@functools.cache
def tracer():
    from aws_lambda_powertools import Tracer

    return Tracer(service=SERVICE)  # patches boto3, so AWS calls show in X-Ray


def correlation_id(event) -> str | None:
    """The id that follows one request or message: API Gateway's request id, the SQS/SNS message id,
    the EventBridge event id."""
    request_context = getattr(event, "context", None)
    if isinstance(request_context, dict):
        return request_context.get("requestId")
    raw = event.to_dict() if hasattr(event, "to_dict") else {}
    records = raw.get("Records") or [{}]
    first = records[0]
    return first.get("messageId") or (first.get("Sns") or {}).get("MessageId") or raw.get("id")


def bind(event) -> None:
    """Called once per invocation (app.py middleware): every log line then carries these keys."""
    context = getattr(event, "lambda_context", None) or getattr(event, "context", None)
    log = logger()
    log.set_correlation_id(correlation_id(event))
    log.append_keys(
        function_name=getattr(context, "function_name", None),
        function_request_id=getattr(context, "aws_request_id", None),
        cold_start=_state["cold"],
    )
    _state["cold"] = False
    if tracing_enabled():
        tracer()
