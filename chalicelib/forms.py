"""Reading values people submit (form fields or JSON), the same way in every capability."""
from __future__ import annotations

import re

# C0/C1 control characters (but tab, newline, carriage return) mean nothing in a name or a story,
# and break MJML's parser and some mail clients.
# A regular expression, not str.translate: translate copies every character through a dict lookup
# (2.6 ms for an issue's 8 kB of MJML, most of a render), the expression scans in C and rarely matches.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
TICKED = frozenset({"yes", "true", "on", "1"})


def strip_controls(text: str) -> str:
    return _CONTROL.sub("", text)


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
