"""The suppression list's store: what remains of an address after erasure, a hard bounce or a complaint.

The rules (who may be suppressed, what lifting one writes to the person's history) stay with the
subscribers in chalicelib.subscriptions; a SuppressionStore only keeps one record per address id,
as a dict of its reason, when (`at`) and any details (a note, who)."""
from __future__ import annotations

from typing import Protocol

from chalicelib import aws, dynamo, keys

_KEYS = ("PK", "SK", "GSI1PK", "GSI1SK")


class SuppressionStore(Protocol):
    def get(self, sid: str) -> dict | None: ...

    def put(self, sid: str, reason: str, at: str, **details: str) -> None: ...

    def delete(self, sid: str) -> None: ...

    def delete_if(self, sid: str, reasons: tuple[str, ...]) -> dict | None: ...

    def newest(self, limit: int, cursor: dict | None = None) -> tuple[list[tuple[str, dict]], dict | None]: ...


def _record(item: dict) -> dict:
    return {k: v for k, v in item.items() if k not in _KEYS}


class DynamoSuppressionStore:
    """Suppressions as items of the table, listed newest first through GSI1."""

    def get(self, sid: str) -> dict | None:
        item = aws.table().get_item(Key=keys.suppression(sid)).get("Item")
        return _record(item) if item else None

    def put(self, sid: str, reason: str, at: str, **details: str) -> None:
        aws.table().put_item(Item={**keys.suppression(sid), **keys.suppression_index(at, sid), "reason": reason,
                                   "at": at, **details})

    def delete(self, sid: str) -> None:
        aws.table().delete_item(Key=keys.suppression(sid))

    def delete_if(self, sid: str, reasons: tuple[str, ...]) -> dict | None:
        """Delete the suppression only if its reason is one of `reasons`: the record deleted, or None."""
        names = {f":r{i}": reason for i, reason in enumerate(reasons)}
        old = dynamo.delete_returning(
            Key=keys.suppression(sid), ConditionExpression=f"#r IN ({', '.join(names)})",
            ExpressionAttributeNames={"#r": "reason"}, ExpressionAttributeValues=names)
        return None if old is None else _record(old)

    def newest(self, limit: int, cursor: dict | None = None) -> tuple[list[tuple[str, dict]], dict | None]:
        """Up to `limit` (address id, record) pairs, newest first, and the cursor of the next page."""
        from boto3.dynamodb.conditions import Key

        page = aws.table().query(IndexName="GSI1", KeyConditionExpression=Key("GSI1PK").eq(keys.suppressions_index()),
                                 ScanIndexForward=False, Limit=limit,
                                 **({"ExclusiveStartKey": cursor} if cursor else {}))
        return [(keys.suppressed_id(item), _record(item)) for item in page["Items"]], page.get("LastEvaluatedKey")
