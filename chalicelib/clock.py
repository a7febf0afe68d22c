"""The one source of the current time, so tests can move it."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

_offset_seconds = 0.0


def now() -> datetime:
    return datetime.now(timezone.utc) + timedelta(seconds=_offset_seconds)


def epoch() -> int:
    return int(now().timestamp())


def iso(moment: datetime | None = None) -> str:
    return (moment or now()).astimezone(timezone.utc).isoformat(timespec="seconds")


def parse_iso(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(timezone.utc)


def advance(seconds: float) -> None:
    """Move the clock forward (tests and the local runner's time travel)."""
    global _offset_seconds
    _offset_seconds += seconds


def reset() -> None:
    global _offset_seconds
    _offset_seconds = 0.0
