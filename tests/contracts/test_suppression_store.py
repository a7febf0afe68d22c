"""One contract, two implementations: the table-backed SuppressionStore (under moto) and the in-memory
fake keep and list suppressions alike, so a test that uses the fake says something true of the table."""
from __future__ import annotations

from chalicelib import subscriptions, suppressions
from tests.fakes import FakeSuppressionStore


STORES = (FakeSuppressionStore, suppressions.DynamoSuppressionStore)  # the `store` fixture (tests/contracts/conftest.py) gives each in turn


def test_a_suppression_reads_back_as_its_reason_time_and_details(store):
    assert store.get("s1") is None
    store.put("s1", "manual", "2026-03-02T09:00:00+00:00", note="asked by phone", by="zoe@peerpost.test")
    assert store.get("s1") == {"reason": "manual", "at": "2026-03-02T09:00:00+00:00", "note": "asked by phone",
                               "by": "zoe@peerpost.test"}
    assert store.get("s2") is None


def test_a_later_suppression_of_the_same_address_replaces_the_first(store):
    store.put("s1", "manual", "2026-03-02T09:00:00+00:00", note="asked by phone", by="zoe@peerpost.test")
    store.put("s1", "erased", "2026-03-03T09:00:00+00:00")
    assert store.get("s1") == {"reason": "erased", "at": "2026-03-03T09:00:00+00:00"}
    assert [sid for sid, _ in store.newest(10)[0]] == ["s1"]


def test_delete_removes_a_suppression_and_is_harmless_when_there_is_none(store):
    store.put("s1", "erased", "2026-03-02T09:00:00+00:00")
    store.delete("s1")
    store.delete("never")
    assert store.get("s1") is None and store.newest(10) == ([], None)


def test_delete_if_takes_away_only_a_suppression_with_one_of_the_reasons(store):
    store.put("bounced", "bounce", "2026-03-02T09:00:00+00:00")
    store.put("complained", "complaint", "2026-03-02T09:00:01+00:00")
    assert store.delete_if("complained", ("bounce", "manual")) is None
    assert store.get("complained")["reason"] == "complaint"
    assert store.delete_if("bounced", ("bounce", "manual")) == {"reason": "bounce", "at": "2026-03-02T09:00:00+00:00"}
    assert store.get("bounced") is None
    assert store.delete_if("bounced", ("bounce", "manual")) is None  # a second press
    assert store.delete_if("never", ("bounce", "manual")) is None


def test_suppressions_are_listed_newest_first_a_page_at_a_time(store):
    for n in range(5):
        store.put(f"s{n}", "bounce", f"2026-03-0{n + 1}T09:00:00+00:00")
    first, cursor = store.newest(2)
    assert [sid for sid, _ in first] == ["s4", "s3"] and cursor
    assert first[0][1] == {"reason": "bounce", "at": "2026-03-05T09:00:00+00:00"}
    second, cursor = store.newest(2, cursor)
    assert [sid for sid, _ in second] == ["s2", "s1"] and cursor
    last, cursor = store.newest(2, cursor)
    assert [sid for sid, _ in last] == ["s0"] and cursor is None


def test_is_suppressed_asks_the_store(store):
    store.put("s1", "complaint", "2026-03-02T09:00:00+00:00")
    assert subscriptions.is_suppressed("s1", store) and not subscriptions.is_suppressed("s2", store)
    assert subscriptions.suppression_of("s1", store)["reason"] == "complaint"
