"""The one source of the current time, so tests can move it, and the one home of London time."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from chalicelib.errors import ValidationError

LONDON = ZoneInfo("Europe/London")

_offset_seconds = 0.0


def now() -> datetime:
    return datetime.now(timezone.utc) + timedelta(seconds=_offset_seconds)


def epoch(moment: datetime | None = None) -> int:
    return int((moment or now()).timestamp())


def iso(moment: datetime | None = None) -> str:
    return (moment or now()).astimezone(timezone.utc).isoformat(timespec="seconds")


def parse_iso(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(timezone.utc)


def london_to_utc(value: str, field: str = "send_at") -> datetime:
    """A wall-clock time in Europe/London -> UTC, refusing times that do not exist or happen twice.

    `field` names the form field an error belongs to (the issue form's send_at unless told)."""
    try:
        naive = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValidationError({field: "Enter a date and time, like 2026-12-01 09:00."}) from None
    if naive.tzinfo is not None:
        return naive.astimezone(timezone.utc)
    first, second = naive.replace(tzinfo=LONDON, fold=0), naive.replace(tzinfo=LONDON, fold=1)
    # In the spring gap the two folds differ too, so the gap is told apart first, by a round trip.
    roundtrip = first.astimezone(timezone.utc).astimezone(LONDON).replace(tzinfo=None)
    if roundtrip != naive:
        raise ValidationError({field: "That time does not exist in London (the clocks go forward)."})
    if first.utcoffset() != second.utcoffset():
        raise ValidationError({field: "The clocks change at that time, so it happens twice. Choose another."})
    return first.astimezone(timezone.utc)


def in_london(value: str | datetime) -> datetime:
    moment = value if isinstance(value, datetime) else parse_iso(value)
    return moment.astimezone(LONDON)


def advance(seconds: float) -> None:
    """Move the clock forward (tests and the local runner's time travel)."""
    global _offset_seconds
    _offset_seconds += seconds


def reset() -> None:
    global _offset_seconds
    _offset_seconds = 0.0
