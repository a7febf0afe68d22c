"""Send-once claims: a conditional write per (purpose, recipient), so retries never send twice."""
from __future__ import annotations

from chalicelib import aws, clock, keys


def claim(purpose: str, recipient_id: str, **attributes) -> bool:
    """True for the first caller only; every later or concurrent caller gets False."""
    from botocore.exceptions import ClientError

    try:
        aws.table().put_item(
            Item={**keys.send_claim(purpose, recipient_id), "claimed_at": clock.iso(), **attributes},
            ConditionExpression="attribute_not_exists(PK)",
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise
    return True


def release(purpose: str, recipient_id: str) -> None:
    """Give a claim back when the send it guarded failed before anything left PeerPost."""
    aws.table().delete_item(Key=keys.send_claim(purpose, recipient_id))
