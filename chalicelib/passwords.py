"""Coordinator passwords, as NCSC and NIST SP 800-63B advise: length rather than composition rules,
no forced changes, and a check against passwords people commonly choose.

The common list is the 30,000 most used passwords that zxcvbn ships (it travels in the Lambda
package, nothing is fetched). Passwords are kept as scrypt hashes with a salt of their own.
"""
from __future__ import annotations

import functools
import hashlib
import hmac
import secrets

from chalicelib.errors import ValidationError

MIN_LENGTH = 12
MAX_LENGTH = 256
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}


@functools.cache
def _common() -> frozenset[str]:
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def problem(password: str, email: str = "", name: str = "") -> str:
    """What is wrong with a new password, in words for the person choosing it; "" when it will do."""
    if len(password) < MIN_LENGTH:
        return (f"Use at least {MIN_LENGTH} characters. Three random words together make a strong "
                "password that is easy to remember.")
    if len(password) > MAX_LENGTH:
        return f"Use at most {MAX_LENGTH} characters."
    folded = password.casefold()
    squeezed = "".join(ch for ch in folded if ch.isalnum())
    if folded in _common() or squeezed in _common() or len(set(folded)) < 4:
        return "That password is one of the most commonly used, so it is easy to guess. Please choose another."
    personal = [part for part in (email.split("@")[0].casefold(), name.casefold()) if len(part) >= 4]
    if any(part in folded for part in personal):
        return "Please choose a password that does not contain your name or email address."
    return ""


def check(password: str, email: str = "", name: str = "", field: str = "password") -> None:
    wrong = problem(password, email, name)
    if wrong:
        raise ValidationError({field: wrong})


def new_hash(password: str) -> dict:
    """The stored form of a password: a fresh salt and its scrypt hash."""
    salt = secrets.token_bytes(16)
    return {"salt": salt.hex(), "password_hash": hash_with(password, salt)}


def hash_with(password: str, salt: bytes) -> str:
    return hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT).hex()


def matches(password: str, item: dict | None, dummy_salt: bytes) -> bool:
    """Whether `password` is the item's; computed as long for no item (timing says nothing)."""
    salt = bytes.fromhex(item["salt"]) if item else dummy_salt
    attempt = hash_with(password, salt)
    return bool(item) and hmac.compare_digest(attempt, item["password_hash"])
