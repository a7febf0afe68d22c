"""Signed, purpose-bound, expiring tokens."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib import clock, tokens
from chalicelib.errors import ExpiredToken, InvalidToken


def test_round_trip_and_purpose_binding():
    token = tokens.sign("unsubscribe", "abc123")
    assert tokens.verify("unsubscribe", token) == "abc123"
    with pytest.raises(InvalidToken):
        tokens.verify("preferences", token)


def test_expiry_uses_the_clock():
    token = tokens.sign("confirm", "abc")
    assert tokens.verify("confirm", token, max_age_seconds=60) == "abc"
    clock.advance(61)
    with pytest.raises(ExpiredToken):
        tokens.verify("confirm", token, max_age_seconds=60)


def test_token_reveals_no_address():
    token = tokens.sign("unsubscribe", "k2x7opaque")
    assert "@" not in token


@given(st.text(max_size=300))
def test_garbage_is_always_invalid_never_a_crash(garbage):
    with pytest.raises(InvalidToken):
        tokens.verify("unsubscribe", garbage)


@given(st.integers(min_value=0, max_value=200))
def test_any_single_character_change_is_refused(position):
    token = tokens.sign("unsubscribe", "subscriber-1")
    index = position % len(token)
    # A different character in the top bit of its six: the last character of a base64 part may carry
    # unused low bits, so "A" for "B" there would decode to the very same bytes (no change at all).
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    value = alphabet.find(token[index])
    changed = token[:index] + ("g" if 0 <= value < 32 else "A") + token[index + 1:]
    with pytest.raises(InvalidToken):
        tokens.verify("unsubscribe", changed)
