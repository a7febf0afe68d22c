"""One contract, two implementations: the table-backed AuditStore (under moto) and the in-memory fake
give back the same entries in the same order, so the audit rules' unit tests hold for the table."""
from __future__ import annotations

from datetime import date, timedelta

from chalicelib import audit, clock
from chalicelib.audit import Entry
from tests.fakes import FakeAuditStore


STORES = (FakeAuditStore, audit.DynamoAuditStore)  # the `store` fixture (tests/contracts/conftest.py) gives each in turn


def entry(at: str, who_id: str = "c1", action: str = "send_issue", **fields) -> Entry:
    return Entry(**{"at": at, "who_id": who_id, "who_name": "Zoe", "action": action, "record": "issue=i1",
                    "outcome": audit.DONE, "detail": "", **fields})


def test_an_entry_reads_back_as_it_was_appended(store):
    written = entry("2026-03-02T09:00:00+00:00", outcome=audit.REFUSED, detail="needs editor", record="")
    store.add(written, expires_at=1_900_000_000)
    assert list(store.in_month("2026-03", date(2026, 3, 1), date(2026, 3, 31))) == [written]


def test_a_month_gives_its_days_from_start_to_end_newest_first(store):
    for at in ("2026-03-01T00:00:00+00:00", "2026-03-04T23:59:59+00:00", "2026-03-02T12:00:00+00:00",
               "2026-03-05T00:00:00+00:00", "2026-02-28T23:59:59+00:00", "2026-04-01T00:00:00+00:00"):
        store.add(entry(at), expires_at=1)
    assert [e.at for e in store.in_month("2026-03", date(2026, 3, 2), date(2026, 3, 4))] == [
        "2026-03-04T23:59:59+00:00", "2026-03-02T12:00:00+00:00"]
    assert [e.at for e in store.in_month("2026-03", date(2026, 2, 1), date(2026, 4, 30))] == [
        "2026-03-05T00:00:00+00:00", "2026-03-04T23:59:59+00:00", "2026-03-02T12:00:00+00:00",
        "2026-03-01T00:00:00+00:00"]  # one month's partition only, whatever the days


def test_entries_can_be_one_persons_one_actions_or_both(store):
    store.add(entry("2026-03-02T09:00:00+00:00", who_id="c1", action="send_issue"), expires_at=1)
    store.add(entry("2026-03-02T09:00:01+00:00", who_id="c2", action="send_issue"), expires_at=1)
    store.add(entry("2026-03-02T09:00:02+00:00", who_id="c1", action="publish_story"), expires_at=1)

    def read(**filters):
        return [(e.who_id, e.action) for e in store.in_month("2026-03", date(2026, 3, 1), date(2026, 3, 31), **filters)]

    assert read(who_id="c1") == [("c1", "publish_story"), ("c1", "send_issue")]
    assert read(action="send_issue") == [("c2", "send_issue"), ("c1", "send_issue")]
    assert read(who_id="c1", action="send_issue") == [("c1", "send_issue")]
    assert read(who_id="nobody") == []


def test_entries_in_the_same_second_are_all_kept(store):
    for who in ("c1", "c2", "c3"):
        store.add(entry("2026-03-02T09:00:00+00:00", who_id=who), expires_at=1)
    assert sorted(e.who_id for e in store.in_month("2026-03", date(2026, 3, 2), date(2026, 3, 2))) == ["c1", "c2", "c3"]


def test_the_service_reads_across_months_through_either_store(store):
    audit.append("sign_in", who_id="c1", who_name="Zoe", store=store)
    today = clock.now().date()
    assert [e.action for e in audit.entries(today - timedelta(days=40), today, store=store)] == ["sign_in"]
