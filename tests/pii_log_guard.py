"""A pytest plugin: no email address, name or story text in any log line the suite produces.

Registered from tests/conftest.py. For every test it scans what the test logged (PeerPost's loggers at
every level, plus the captured stdout/stderr/log where powertools writes its JSON lines) and fails the
test, naming what leaked, if it finds:
- an email address (any, except the organisation's own at ALLOWED_DOMAINS);
- a personal value the suite sent to the app: every personal field of every request body parsed by
  chalicelib.web.body (names, addresses, story text, needs), and anything passed to watch().
At the end of the session it prints how many log lines it read and how many values it watched.
"""
from __future__ import annotations

import logging
import re

import pytest

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
ALLOWED_DOMAINS = ("peerpost.example.org",)  # the organisation's own From/Reply-To addresses
PERSONAL_KEYS = re.compile(r"email|name|story|text|body|content|needs|dietary|access|phone|message|note", re.I)
IDS = ("_id", "-kind")  # a story's id, or a section's kind, names no one: logs carry ids
LOGGERS = ("peerpost", "chalicelib", "app", "localdev")
WINDOW = 30  # long text is watched in slices, so a log line quoting part of a story is caught too

_watched: set[str] = set()
_lines: list[str] = []
_stats = {"lines": 0}


def watch(*values: str) -> None:
    """Tests may add personal values the app receives other than through an HTTP body."""
    for value in values:
        if not isinstance(value, str):
            continue
        value = value.strip()
        if len(value) < 3:
            continue
        if len(value) <= WINDOW:
            _watched.add(value)
        else:
            _watched.update(value[i:i + WINDOW] for i in range(0, len(value) - WINDOW + 1, WINDOW))


def _harvest(data, personal: bool = False) -> None:
    if isinstance(data, dict):
        for key, value in data.items():
            named = bool(PERSONAL_KEYS.search(str(key))) and not str(key).endswith(IDS)
            _harvest(value, personal or named)
    elif isinstance(data, list):
        for value in data:
            _harvest(value, personal)
    elif personal:
        watch(data)


def leaks(text: str) -> list[str]:
    found = [m for m in EMAIL.findall(text) if not m.lower().endswith(ALLOWED_DOMAINS)]
    found += [value for value in _watched if value in text]
    return sorted(set(found))


class _Recorder(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        try:
            extras = {k: v for k, v in record.__dict__.items() if k not in _STANDARD}
            _lines.append(f"{record.getMessage()} {extras}")
        except Exception:  # a record that cannot be formatted is reported by logging itself  # nosec B110
            pass


_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}
_recorder = _Recorder(level=logging.DEBUG)


def pytest_configure(config):
    for name in LOGGERS:
        log = logging.getLogger(name)
        log.addHandler(_recorder)
        if log.level == logging.NOTSET or log.level > logging.DEBUG:
            log.setLevel(logging.DEBUG)
    from chalicelib import web

    original = web.body

    def body(request):
        data = original(request)
        _harvest(data)
        return data

    web.body = body


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if call.when == "setup":
        _lines.clear()
    if call.when != "teardown":
        return
    captured = [content for _, content in report.sections] + _lines
    _stats["lines"] += sum(text.count("\n") + 1 for text in captured)
    found = leaks("\n".join(captured))
    _lines.clear()
    if found and report.outcome != "failed":
        report.outcome = "failed"
        report.longrepr = (f"Personal data in the logs of {item.nodeid}: {found}\n"
                           "Log ids and counts only (chalicelib/observability.py), never an address, a name or story text.")


def pytest_sessionfinish(session):
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: hand the counts to the controller
        workeroutput["pii_log_guard"] = {"lines": _stats["lines"], "watched": len(_watched)}


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    figures = getattr(node, "workeroutput", {}).get("pii_log_guard", {})
    _stats["lines"] += figures.get("lines", 0)
    _stats["watched"] = _stats.get("watched", 0) + figures.get("watched", 0)


def pytest_terminal_summary(terminalreporter):
    if _stats["lines"]:
        watched = _stats.get("watched", len(_watched))
        terminalreporter.write_line(
            f"pii-log-guard: {_stats['lines']} captured log lines scanned, {watched} personal values watched")
