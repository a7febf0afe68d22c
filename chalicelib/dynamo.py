"""The DynamoDB primitives every repository is built on, and the only place that reads DynamoDB's errors.

- `put_if_new`, `put_if`, `update_if`, `delete_if` say whether a conditional write applied, so no
  service catches ConditionalCheckFailedException itself;
- `transact` writes several items at once and raises TransactionFailed naming the items whose
  condition failed;
- `batch_get` reads many keys with bounded backoff and raises rather than answer short;
- `query_items` and `query_count` page through a query.

Values go through boto3's own TypeSerializer and TypeDeserializer, never hand-written ones.
"""
from __future__ import annotations

import functools
import random
import time
from dataclasses import dataclass
from typing import Callable, Iterator

from chalicelib import aws

CONDITION_FAILED = "ConditionalCheckFailedException"


class TransactionFailed(Exception):
    """A transaction was cancelled. `failed` names the items DynamoDB refused, because their condition
    did not hold or another transaction held them (their labels, or their positions when unlabelled);
    `conflict` is True when another transaction got there first, so trying again may succeed."""

    def __init__(self, failed: list, conflict: bool = False):
        super().__init__(f"transaction cancelled: {', '.join(map(str, failed)) or 'conflict'}")
        self.failed = failed
        self.conflict = conflict


def condition_failed(exc: Exception) -> bool:
    """Whether a botocore error is DynamoDB saying a condition did not hold."""
    response = getattr(exc, "response", None) or {}
    return response.get("Error", {}).get("Code") == CONDITION_FAILED


def _applied(call: Callable, request: dict):
    """The call's response, or None when its condition did not hold; any other error is raised."""
    from botocore.exceptions import ClientError

    try:
        return call(**request)
    except ClientError as exc:
        if condition_failed(exc):
            return None
        raise


def put_if(table=None, **request) -> bool:
    """PutItem with a ConditionExpression: True if it was written."""
    return _applied((table or aws.table()).put_item, request) is not None


def put_if_new(item: dict, table=None, **request) -> bool:
    """Write an item only if no item has its key: True for the first writer only."""
    return put_if(table, Item=item, ConditionExpression="attribute_not_exists(PK)", **request)


def update_if(table=None, **request) -> bool:
    """UpdateItem with a ConditionExpression: True if it applied."""
    return _applied((table or aws.table()).update_item, request) is not None


def update_returning(table=None, **request) -> dict | None:
    """UpdateItem with a condition and ReturnValues: the attributes asked for, or None if it did not apply."""
    response = _applied((table or aws.table()).update_item, request)
    return None if response is None else response.get("Attributes", {})


def delete_if(table=None, **request) -> bool:
    """DeleteItem with a ConditionExpression: True if it deleted."""
    return _applied((table or aws.table()).delete_item, request) is not None


def delete_returning(table=None, **request) -> dict | None:
    """DeleteItem with a condition and ReturnValues=ALL_OLD: the item deleted, or None if the condition failed."""
    response = _applied((table or aws.table()).delete_item, {"ReturnValues": "ALL_OLD", **request})
    return None if response is None else response.get("Attributes", {})


# ---------------------------------------------------------------- values

@functools.cache
def _serializer():
    from boto3.dynamodb.types import TypeSerializer

    return TypeSerializer()


@functools.cache
def _deserializer():
    from boto3.dynamodb.types import TypeDeserializer

    return TypeDeserializer()


def serialise(values: dict) -> dict:
    """Python values -> DynamoDB's typed form, for the low-level client."""
    return {k: _serializer().serialize(v) for k, v in values.items()}


def deserialise(item: dict) -> dict:
    """DynamoDB's typed form -> Python values (numbers as Decimal, as the resource API gives them)."""
    return {k: _deserializer().deserialize(v) for k, v in item.items()}


# ---------------------------------------------------------------- transactions

@dataclass(frozen=True)
class Op:
    """One item of a transaction: kind is Put, Update, Delete or ConditionCheck."""

    kind: str
    spec: dict
    label: str | None = None

    def request(self, table_name: str) -> dict:
        spec = {**self.spec, "TableName": table_name}
        for part in ("Key", "Item", "ExpressionAttributeValues"):
            if part in spec:
                spec[part] = serialise(spec[part])
        return {self.kind: spec}


def _op(kind: str, label: str | None, condition: str | None, names: dict | None, values: dict | None,
        **spec) -> Op:
    if condition:
        spec["ConditionExpression"] = condition
    if names:
        spec["ExpressionAttributeNames"] = names
    if values:
        spec["ExpressionAttributeValues"] = values
    return Op(kind, spec, label)


def put(item: dict, condition: str | None = None, names: dict | None = None, values: dict | None = None,
        label: str | None = None) -> Op:
    return _op("Put", label, condition, names, values, Item=item)


def update(key: dict, expression: str, condition: str | None = None, names: dict | None = None,
           values: dict | None = None, label: str | None = None) -> Op:
    return _op("Update", label, condition, names, values, Key=key, UpdateExpression=expression)


def delete(key: dict, condition: str | None = None, names: dict | None = None, values: dict | None = None,
           label: str | None = None) -> Op:
    return _op("Delete", label, condition, names, values, Key=key)


def check(key: dict, condition: str, names: dict | None = None, values: dict | None = None,
          label: str | None = None) -> Op:
    return _op("ConditionCheck", label, condition, names, values, Key=key)


def transact(ops: list[Op], client=None) -> None:
    """All of ops or none of them. Raises TransactionFailed naming the items whose condition failed."""
    from botocore.exceptions import ClientError

    from chalicelib.settings import get_settings

    table_name = get_settings().table_name
    try:
        (client or aws.dynamodb_client()).transact_write_items(TransactItems=[op.request(table_name) for op in ops])
    except ClientError as exc:
        code = exc.response["Error"]["Code"]
        if code not in ("TransactionCanceledException", "TransactionConflictException"):
            raise
        reasons = exc.response.get("CancellationReasons") or []
        # A reason's code is "ConditionalCheckFailed", "TransactionConflict", ... or "None" for an item
        # that was fine: unlike the error's own code it has no "Exception" on the end.
        failed = [ops[i].label if ops[i].label is not None else i
                  for i, reason in enumerate(reasons) if reason.get("Code") not in (None, "None")]
        conflict = code == "TransactionConflictException" or any(
            reason.get("Code") == "TransactionConflict" for reason in reasons)
        raise TransactionFailed(failed, conflict=conflict or not failed) from exc


# ---------------------------------------------------------------- reads

def query_items(table=None, **request) -> Iterator[dict]:
    """Every item a query matches, page by page: never the whole result in memory at once."""
    table = table or aws.table()
    while True:
        page = table.query(**request)
        yield from page["Items"]
        if "LastEvaluatedKey" not in page:
            return
        request = {**request, "ExclusiveStartKey": page["LastEvaluatedKey"]}


def query_count(table=None, **request) -> int:
    """How many items a query matches (Select COUNT, every page)."""
    table = table or aws.table()
    total = 0
    while True:
        page = table.query(Select="COUNT", **request)
        total += page["Count"]
        if "LastEvaluatedKey" not in page:
            return total
        request = {**request, "ExclusiveStartKey": page["LastEvaluatedKey"]}


BATCH_GET_ATTEMPTS = 8  # with the backoff below, about 6 s at most before giving up
BATCH_GET_BACKOFF = (0.05, 2.0)  # first wait and the longest, in seconds (full jitter, as AWS advises)


def batch_get(client, table_name: str, item_keys: list[dict], sleep: Callable[[float], None] | None = None,
              **options) -> list[dict]:
    """Every item of item_keys that exists, 100 keys to a BatchGetItem, retrying what DynamoDB leaves
    unprocessed a bounded number of times with backoff. Raises ReadsUnprocessed rather than return a
    partial answer: a key not read is not an item that is missing.

    item_keys are in whatever form `client` takes: typed for a plain client, plain for a resource's."""
    from chalicelib.errors import ReadsUnprocessed

    found: list[dict] = []
    first, longest = BATCH_GET_BACKOFF
    for start in range(0, len(item_keys), 100):
        request = {table_name: {"Keys": item_keys[start:start + 100], **options}}
        for attempt in range(BATCH_GET_ATTEMPTS):
            response = client.batch_get_item(RequestItems=request)
            found.extend(response["Responses"].get(table_name, []))
            request = response.get("UnprocessedKeys") or {}
            if not request:
                break
            if attempt + 1 < BATCH_GET_ATTEMPTS:
                (sleep or time.sleep)(random.uniform(0, min(longest, first * 2**attempt)))  # nosec B311 - jitter, not a secret
        if request:
            raise ReadsUnprocessed(f"{len(request[table_name]['Keys'])} keys left unprocessed")
    return found

