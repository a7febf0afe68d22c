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
