"""Logs carry a correlation id and no personal data; tracing stays off unless asked for."""
from __future__ import annotations

import io
import json
import logging

from chalicelib import observability
from tests import pii_log_guard


class Request:
    def __init__(self):
        self.context = {"requestId": "req-123"}
        self.lambda_context = type("Ctx", (), {"function_name": "peerpost-dev-api_handler", "aws_request_id": "aws-1"})


class Event:
    def __init__(self, raw):
        self.raw = raw
        self.context = type("Ctx", (), {"function_name": "peerpost-dev-x", "aws_request_id": "aws-2"})

    def to_dict(self):
        return self.raw


def test_the_correlation_id_is_the_request_or_message_id():
    assert observability.correlation_id(Request()) == "req-123"
    assert observability.correlation_id(Event({"Records": [{"messageId": "sqs-1"}]})) == "sqs-1"
    assert observability.correlation_id(Event({"Records": [{"Sns": {"MessageId": "sns-1"}}]})) == "sns-1"
    assert observability.correlation_id(Event({"id": "schedule-1", "detail": {}})) == "schedule-1"


def test_every_log_line_of_an_invocation_carries_its_correlation_id_and_function(monkeypatch):
    buffer = io.StringIO()
    log = observability.logger()
    streams = [(h, h.setStream(buffer)) for h in logging.getLogger("peerpost").handlers if hasattr(h, "setStream")]
    try:
        observability.bind(Event({"Records": [{"messageId": "sqs-42"}]}))
        log.info("batch done", extra={"sent": 3})
    finally:
        for handler, stream in streams:
            handler.setStream(stream)
    # Other handlers (pytest's, other tests') may share the logger: powertools' line is the JSON one.
    line = json.loads([row for row in buffer.getvalue().splitlines() if row.startswith("{") and "batch done" in row][-1])
    assert line["correlation_id"] == "sqs-42"
    assert line["function_name"] == "peerpost-dev-x"
    assert line["sent"] == 3 and line["service"] == "peerpost"


def test_tracing_stays_off_outside_lambda_and_unless_the_stack_turns_it_on(monkeypatch):
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "false")
    assert not observability.tracing_enabled()
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "peerpost-dev-api_handler")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    assert not observability.tracing_enabled()
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "false")
    assert observability.tracing_enabled()


def test_the_log_guard_catches_addresses_names_and_story_text_sent_to_the_app(monkeypatch):
    monkeypatch.setattr(pii_log_guard, "_watched", set())
    story = "When I first came to the group I could not say a word, and now I run the Tuesday meeting."
    pii_log_guard._harvest({"first_name": "Marguerite", "story": story, "topics": ["newsletter"], "count": "12"})
    assert pii_log_guard.leaks("subscribed sid=abc123 topics=newsletter") == []
    assert pii_log_guard.leaks("subscribed marguerite-x@example.com") == ["marguerite-x@example.com"]
    assert pii_log_guard.leaks("from news@peerpost.example.org") == []
    assert pii_log_guard.leaks("hello Marguerite") == ["Marguerite"]
    assert pii_log_guard.leaks(f"excerpt: {story[30:75]}") != []


def test_the_log_guard_reads_what_peerpost_loggers_write():
    observability.logger().info("probe", extra={"note": "nothing personal"})
    assert any("probe" in line and "nothing personal" in line for line in pii_log_guard._lines)
