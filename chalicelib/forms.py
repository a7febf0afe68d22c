"""Reading values people submit (form fields or JSON), the same way in every capability."""
from __future__ import annotations

# C0/C1 control characters (but tab, newline, carriage return) mean nothing in a name or a story,
# and break MJML's parser and some mail clients.
_CONTROL = dict.fromkeys([*range(0, 9), 11, 12, *range(14, 32), 127, *range(128, 160)])
TICKED = frozenset({"yes", "true", "on", "1"})


def strip_controls(text: str) -> str:
    return text.translate(_CONTROL)


def clean_line(value) -> str:
    """One line of text: control characters dropped, runs of white space folded."""
    return " ".join(strip_controls(str(value or "")).split())


def clean_text(value) -> str:
    """Several paragraphs: control characters dropped, line endings normalised, ends trimmed."""
    text = strip_controls(str(value or "").replace("\r\n", "\n").replace("\r", "\n"))
    return text.strip()


def str_list(value) -> list[str]:
    """A checkbox group: one string, a list of strings, or anything else (which counts as nothing)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        return [v for v in value if isinstance(v, str)]
    return []


def ticked(value) -> bool:
    return value is True or (isinstance(value, str) and value.lower() in TICKED)
