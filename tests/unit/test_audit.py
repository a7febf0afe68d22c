"""The audit trail's rules against the in-memory store and a still clock: what an entry holds, and how
a range of days is read back across months. No moto."""
from __future__ import annotations

from datetime import date, datetime, timezone
from types import SimpleNamespace

import pytest

from chalicelib import audit
from tests.fakes import FakeAuditStore, FakeClock

DAY = 86400


@pytest.fixture
def store():
    return FakeAuditStore()


def at(*moment) -> FakeClock:
    return FakeClock(datetime(*moment, tzinfo=timezone.utc))


def test_an_entry_holds_ids_the_time_and_when_it_expires(store):
    now = at(2026, 3, 2, 9, 30)
    audit.append("send_issue", who_id="c1", who_name="Zoe",
                 record={"issue": "i1", "email": "a@b.test", "note": "two words"}, store=store, now=now)
    [(entry, expires_at)] = store.appended
    assert entry == audit.Entry(at="2026-03-02T09:30:00+00:00", who_id="c1", who_name="Zoe", action="send_issue",
                                record="issue=i1", outcome=audit.DONE, detail="")
    assert expires_at == int(now().timestamp()) + audit.get_settings().audit_retention_days * DAY


def test_an_entry_without_a_who_says_unknown(store):
    audit.append("sign_in", who_id="", who_name="", outcome=audit.FAILED, store=store, now=at(2026, 3, 2))
    [(entry, _)] = store.appended
    assert (entry.who_id, entry.who_name, entry.outcome, entry.record) == ("unknown", "unknown", audit.FAILED, "")


def test_by_names_the_coordinator_and_the_record_a_view_named(store):
    audit.begin()
    audit.about("invitation", "inv1")
    audit.by(SimpleNamespace(id="c1", name="Zoe"), "invite", {"team": "t1"}, store=store)
    audit.begin()
    [(entry, _)] = store.appended
    assert (entry.who_id, entry.record) == ("c1", "invitation=inv1 team=t1")


def _history(store, *entries):
    for moment, who, action in entries:
        audit.append(action, who_id=who, who_name=who, store=store, now=at(*moment))


def test_a_range_of_days_is_read_across_months_and_years_newest_first(store):
    _history(store, ((2025, 12, 30, 8), "c1", "a"), ((2025, 12, 31, 23, 59, 59), "c1", "b"),
             ((2026, 1, 15), "c1", "c"), ((2026, 2, 1), "c1", "d"), ((2026, 2, 2), "c1", "e"),
             ((2025, 11, 30), "c1", "before"))
    read = [e.action for e in audit.entries(date(2025, 12, 31), date(2026, 2, 1), store=store)]
    assert read == ["d", "c", "b"]
    assert [e.action for e in audit.entries(date(2025, 11, 1), date(2026, 12, 31), store=store)] == [
        "e", "d", "c", "b", "a", "before"]


def test_a_single_day_is_its_own_range(store):
    _history(store, ((2026, 3, 1, 23, 59, 59), "c1", "a"), ((2026, 3, 2, 0, 0), "c1", "b"), ((2026, 3, 3), "c1", "c"))
    assert [e.action for e in audit.entries(date(2026, 3, 2), date(2026, 3, 2), store=store)] == ["b"]


def test_entries_can_be_one_persons_one_actions_or_both(store):
    _history(store, ((2026, 1, 5), "c1", "send_issue"), ((2026, 2, 5), "c2", "send_issue"),
             ((2026, 3, 5), "c1", "publish_story"), ((2026, 3, 6), "c1", "send_issue"))
    months = (date(2026, 1, 1), date(2026, 3, 31))
    assert [e.at[:10] for e in audit.entries(*months, who_id="c1", store=store)] == [
        "2026-03-06", "2026-03-05", "2026-01-05"]
    assert [e.who_id for e in audit.entries(*months, action="send_issue", store=store)] == ["c1", "c2", "c1"]
    assert [e.at[:10] for e in audit.entries(*months, who_id="c1", action="send_issue", store=store)] == [
        "2026-03-06", "2026-01-05"]

