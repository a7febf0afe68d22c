"""Structured logs and EMF metrics (powertools), built once and lazily.

Log lines carry ids, counts and outcomes only: never an address, a name or story text.
"""
from __future__ import annotations

import functools
import os

NAMESPACE = "PeerPost"
SERVICE = "peerpost"


@functools.cache
def logger():
    from aws_lambda_powertools import Logger

    return Logger(service=SERVICE)


def count(name: str, value: int = 1) -> None:
    """Emit one EMF count metric at once (no flush decorator needed on any handler)."""
    if os.environ.get("POWERTOOLS_METRICS_DISABLED", "").lower() == "true":
        return
    from aws_lambda_powertools.metrics import MetricUnit, single_metric

    with single_metric(name=name, unit=MetricUnit.Count, value=value, namespace=NAMESPACE) as metric:
        metric.add_dimension(name="service", value=SERVICE)
