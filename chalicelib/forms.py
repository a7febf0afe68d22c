"""Reading values people submit (form fields or JSON), the same way in every capability."""
from __future__ import annotations

import re

from chalicelib.errors import ValidationError

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


MAX_ADDRESS = 254  # RFC 5321's limit on a path, and so on an address that can be mailed


def email_address(raw, field: str = "email") -> str:
    """An email address someone typed, checked and normalised by email-validator (its domain lower-cased
    and IDNA-encoded as mail needs), or a ValidationError on `field` saying what to type."""
    from email_validator import EmailNotValidError, validate_email

    text = str(raw or "").strip()
    if not text:
        raise ValidationError({field: "Enter your email address."})
    if len(text) > MAX_ADDRESS or "\n" in text or "\r" in text:
        raise ValidationError({field: "Enter a valid email address, like name@example.org."})
    try:
        return validate_email(text, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValidationError({field: "Enter a valid email address, like name@example.org."}) from exc


def address_key(email: str) -> str:
    """The form of an address that ids are derived from: case and surrounding space never make two people."""
    return (email or "").strip().lower()
