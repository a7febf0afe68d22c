"""claims.once as the senders use it, against the in-memory store: no moto, milliseconds."""
from __future__ import annotations

from chalicelib import claims
from tests.fakes import FakeClaimStore


def send_each(people, send, store):
    """The shape of every "email each person once" loop: one failure neither stops the rest nor
    uses up that person's claim."""
    told, failed = [], []
    for person in people:
        try:
            with claims.once("notice", person, store) as first:
                if not first:
                    continue
                send(person)
        except ConnectionError:
            failed.append(person)
        else:
            told.append(person)
    return told, failed


def test_a_failed_person_is_retried_alone_and_nobody_is_told_twice():
    store, sent, refusals = FakeClaimStore(), [], ["b"]

    def send(person):
        if person in refusals:
            refusals.remove(person)  # SES refuses b once, then takes it
            raise ConnectionError
        sent.append(person)

    assert send_each(["a", "b", "c"], send, store) == (["a", "c"], ["b"])
    assert send_each(["a", "b", "c"], send, store) == (["b"], [])
    assert send_each(["a", "b", "c"], send, store) == ([], [])
    assert sorted(sent) == ["a", "b", "c"]


def test_claim_purposes_keep_the_spelling_the_stored_claims_have():
    """A purpose spelt differently would read as a new message: everyone already told would be told again."""
    from chalicelib import claims

    assert claims.event_offer("2026-12-03T10:00:00+00:00") == "event-offer#2026-12-03T10:00:00+00:00"
    assert claims.event_reminder("e1", "2026-12-04T18:00:00+00:00") == "event-reminder#e1#2026-12-04T18:00:00+00:00"
    assert claims.event_change("e1", 3) == "event-change#e1#3"
    assert claims.event_cancelled("e1") == "event-cancelled#e1"
    assert (claims.SAFEGUARDING_ALERT, claims.SAFEGUARDING_SECOND_ALERT) == ("story-safeguarding", "story-safeguarding-second")
