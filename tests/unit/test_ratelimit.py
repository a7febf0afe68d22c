"""The rate-limit rules against the in-memory store and a clock that moves only when told: no moto."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from chalicelib import ratelimit
from chalicelib.errors import RateLimited
from tests.fakes import FakeClock, FakeRateLimitStore

HOUR = 3600


@pytest.fixture
def store():
    return FakeRateLimitStore()


@pytest.fixture
def now():
    return FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc))  # on the hour


def test_the_limit_is_reached_and_then_refused_within_the_window(store, now):
    assert [ratelimit.allow("s", "a", 3, store=store, now=now) for _ in range(4)] == [True, True, True, False]
    now.advance(HOUR - 1)
    assert not ratelimit.allow("s", "a", 3, store=store, now=now)


def test_a_new_window_starts_the_count_again(store, now):
    now.advance(HOUR - 1)
    assert ratelimit.allow("s", "a", 1, store=store, now=now)
    assert not ratelimit.allow("s", "a", 1, store=store, now=now)
    now.advance(1)
    assert ratelimit.allow("s", "a", 1, store=store, now=now)


def test_windows_are_fixed_by_their_length(store, now):
    assert ratelimit.allow("s", "a", 1, 60, store=store, now=now)
    now.advance(59)
    assert not ratelimit.allow("s", "a", 1, 60, store=store, now=now)
    now.advance(1)
    assert ratelimit.allow("s", "a", 1, 60, store=store, now=now)


def test_a_hit_given_back_frees_its_place_in_the_same_window_only(store, now):
    assert ratelimit.allow("s", "a", 1, store=store, now=now)
    ratelimit.give_back("s", "a", store=store, now=now)
    assert ratelimit.allow("s", "a", 1, store=store, now=now)
    now.advance(HOUR)
    ratelimit.give_back("s", "a", store=store, now=now)  # a window with nothing counted: no credit
    assert ratelimit.allow("s", "a", 1, store=store, now=now)
    assert not ratelimit.allow("s", "a", 1, store=store, now=now)


def test_enforce_says_how_long_is_left_of_the_window(store, now):
    ratelimit.enforce("s", "a", 1, store=store, now=now)
    now.advance(HOUR - 600)
    with pytest.raises(RateLimited) as refused:
        ratelimit.enforce("s", "a", 1, store=store, now=now)
    assert refused.value.headers == {"Retry-After": "600"}
    assert ratelimit.seconds_left(now=now) == 600


def test_failures_are_remembered_then_forgotten(store, now):
    assert ratelimit.failures("f", "pair", store=store, now=now) == (0, 0)
    ratelimit.record_failures("f", "pair", 2, 900, store=store, now=now)
    at = int(now().timestamp())
    now.advance(900)
    assert ratelimit.failures("f", "pair", store=store, now=now) == (2, at)
    now.advance(1)
    assert ratelimit.failures("f", "pair", store=store, now=now) == (0, 0)  # even before the TTL deletes it


def test_a_recorded_run_replaces_the_last_one_and_clear_ends_it(store, now):
    ratelimit.record_failures("f", "pair", 5, 900, store=store, now=now)
    now.advance(60)
    ratelimit.record_failures("f", "pair", 1, 900, store=store, now=now)
    assert ratelimit.failures("f", "pair", store=store, now=now) == (1, int(now().timestamp()))
    ratelimit.clear("f", "pair", store=store)
    assert ratelimit.failures("f", "pair", store=store, now=now) == (0, 0)
