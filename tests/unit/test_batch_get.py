"""dynamo.batch_get: what DynamoDB leaves unprocessed is retried a bounded number of times, with backoff,
and then refused, never returned as a partial answer (delivery and stories both read through it)."""
from __future__ import annotations

import pytest

from chalicelib import aws, dynamo
from chalicelib.errors import ReadsUnprocessed


class FlakyDynamoDB:
    """Answers each BatchGetItem with at most `per_call` of the keys asked for; the rest unprocessed."""

    def __init__(self, items: dict[str, dict], per_call: int | None) -> None:
        self.items, self.per_call, self.calls = items, per_call, 0

    def batch_get_item(self, RequestItems):
        self.calls += 1
        ((table, request),) = RequestItems.items()
        wanted = request["Keys"]
        done = wanted if self.per_call is None else wanted[:self.per_call]
        response = {"Responses": {table: [self.items[k["PK"]] for k in done if k["PK"] in self.items]}}
        if len(done) < len(wanted):
            response["UnprocessedKeys"] = {table: {**request, "Keys": wanted[len(done):]}}
        return response


def keys_and_items(n):
    return [{"PK": f"K{i}"} for i in range(n)], {f"K{i}": {"PK": f"K{i}", "n": i} for i in range(n)}


def test_unprocessed_keys_are_read_again_with_growing_jittered_waits_until_all_are_read():
    wanted, items = keys_and_items(250)
    client, waits = FlakyDynamoDB(items, per_call=40), []
    found = dynamo.batch_get(client, "t", wanted, sleep=waits.append)
    assert sorted(i["n"] for i in found) == list(range(250))
    assert client.calls == 3 + 3 + 2  # 100, 100 and 50 keys, 40 at a time
    assert all(0 <= w <= dynamo.BATCH_GET_BACKOFF[1] for w in waits)


def test_keys_that_stay_unprocessed_are_refused_after_a_bounded_number_of_tries_with_backoff():
    wanted, items = keys_and_items(5)
    client, waits = FlakyDynamoDB(items, per_call=0), []
    with pytest.raises(ReadsUnprocessed):
        dynamo.batch_get(client, "t", wanted, sleep=waits.append)
    assert client.calls == dynamo.BATCH_GET_ATTEMPTS
    assert len(waits) == dynamo.BATCH_GET_ATTEMPTS - 1
    first, longest = dynamo.BATCH_GET_BACKOFF
    assert all(w <= min(longest, first * 2**n) for n, w in enumerate(waits))


def test_stories_shared_to_a_channel_are_never_a_partial_list_when_reads_stay_unprocessed(monkeypatch):
    from chalicelib import stories

    wanted, items = keys_and_items(3)
    client = FlakyDynamoDB(items, per_call=0)

    class Table:
        class meta:
            pass

    Table.meta.client = client
    monkeypatch.setattr(aws, "table", lambda: Table)
    monkeypatch.setattr(dynamo.time, "sleep", lambda seconds: None)
    with pytest.raises(ReadsUnprocessed):
        stories._batch_get(wanted)
    assert client.calls == dynamo.BATCH_GET_ATTEMPTS
    client.per_call = 2
    assert len(stories._batch_get(wanted)) == 3
