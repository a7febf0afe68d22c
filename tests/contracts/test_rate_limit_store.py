"""One contract, two implementations: the table-backed RateLimitStore (under moto) and the in-memory
fake keep the same counts, so a unit test of the rate-limit rules that uses the fake holds for the table."""
from __future__ import annotations

from chalicelib import ratelimit
from chalicelib.ratelimit import FailureRun
from tests.fakes import FakeRateLimitStore


STORES = (FakeRateLimitStore, ratelimit.DynamoRateLimitStore)  # the `store` fixture (tests/contracts/conftest.py) gives each in turn


def test_hits_are_counted_up_to_the_limit_and_no_further(store):
    assert [store.count("s", "a", 7, 3, expires_at=100) for _ in range(5)] == [True, True, True, False, False]


def test_the_first_hit_is_always_counted(store):
    assert store.count("s", "a", 7, 0, expires_at=100)
    assert not store.count("s", "a", 7, 0, expires_at=100)


def test_windows_scopes_and_subjects_count_apart(store):
    assert store.count("s", "a", 7, 1, expires_at=100)
    assert store.count("s", "a", 8, 1, expires_at=100)
    assert store.count("t", "a", 7, 1, expires_at=100)
    assert store.count("s", "b", 7, 1, expires_at=100)
    assert not store.count("s", "a", 7, 1, expires_at=100)


def test_an_uncounted_hit_frees_a_place_and_the_count_never_goes_below_zero(store):
    assert store.count("s", "a", 7, 1, expires_at=100)
    store.uncount("s", "a", 7)
    store.uncount("s", "a", 7)
    store.uncount("s", "nobody", 7)
    assert store.count("s", "a", 7, 1, expires_at=100)
    assert not store.count("s", "a", 7, 1, expires_at=100)
    assert store.count("s", "nobody", 7, 1, expires_at=100)


def test_a_failure_run_is_set_read_back_replaced_and_cleared(store):
    assert store.run("f", "a") is None
    store.set_run("f", "a", FailureRun(failures=2, last_at=1000, expires_at=1900))
    assert store.run("f", "a") == FailureRun(2, 1000, 1900)
    store.set_run("f", "a", FailureRun(failures=1, last_at=2000, expires_at=2900))
    assert store.run("f", "a") == FailureRun(1, 2000, 2900)
    assert store.run("f", "b") is None and store.run("g", "a") is None
    store.clear_run("f", "a")
    store.clear_run("f", "never")
    assert store.run("f", "a") is None


def test_the_rules_read_the_same_through_either_store(store):
    for _ in range(2):
        ratelimit.allow("client", "198.51.100.7", 2, store=store)
    assert not ratelimit.allow("client", "198.51.100.7", 2, store=store)
    ratelimit.give_back("client", "198.51.100.7", store=store)
    assert ratelimit.allow("client", "198.51.100.7", 2, store=store)
    ratelimit.record_failures("sign-in", "pair", 3, 900, store=store)
    count, last_at = ratelimit.failures("sign-in", "pair", store=store)
    assert count == 3 and last_at > 0
    ratelimit.clear("sign-in", "pair", store=store)
    assert ratelimit.failures("sign-in", "pair", store=store) == (0, 0)
