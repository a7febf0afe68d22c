"""One contract, two implementations: the table-backed ClaimStore (under moto) and the in-memory fake
behave alike, so a unit test that uses the fake says something true of the real store."""
from __future__ import annotations

import pytest

from chalicelib import claims
from tests.fakes import FakeClaimStore


STORES = (FakeClaimStore, claims.DynamoClaimStore)  # the `store` fixture (tests/contracts/conftest.py) gives each in turn


def test_the_first_claim_wins_and_every_later_one_loses(store):
    assert store.claim("newsletter#1", "r1")
    assert not store.claim("newsletter#1", "r1")
    assert store.claim("newsletter#1", "r2") and store.claim("newsletter#2", "r1")


def test_a_released_claim_can_be_taken_again(store):
    assert store.claim("reminder", "r1")
    store.release("reminder", "r1")
    assert store.claim("reminder", "r1")


def test_releasing_what_was_never_claimed_is_harmless(store):
    store.release("reminder", "nobody")
    assert store.claim("reminder", "nobody")


def test_once_gives_the_claim_back_when_the_send_raises_and_keeps_it_when_it_returns(store):
    with pytest.raises(RuntimeError):
        with claims.once("offer", "r1", store) as first:
            assert first
            raise RuntimeError("SES said no")
    with claims.once("offer", "r1", store) as first:
        assert first  # given back, so the retry sends
    with claims.once("offer", "r1", store) as first:
        assert not first  # kept: never a second copy


def test_once_never_releases_a_claim_it_did_not_take(store):
    assert store.claim("offer", "r1")
    with pytest.raises(RuntimeError):
        with claims.once("offer", "r1", store) as first:
            assert not first
            raise RuntimeError("an error in someone else's attempt")
    assert not store.claim("offer", "r1")  # the first holder's claim stands
