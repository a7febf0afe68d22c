"""localdev/atomic.py: moto's DynamoDB, as `make run` serves it on threads, answers each request as
DynamoDB would, from that request's own write (an event's arrival counter must never give two
people the same number)."""
from __future__ import annotations

import threading

import boto3


def test_an_answer_is_built_before_any_other_request_changes_the_item(aws_mock, monkeypatch):
    from moto.dynamodb.models import DynamoDBBackend

    from localdev import atomic

    atomic.install()
    client = boto3.client("dynamodb", region_name="eu-west-2")
    client.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}],
                        AttributeDefinitions=[{"AttributeName": "PK", "AttributeType": "S"}])
    client.put_item(TableName="t", Item={"PK": {"S": "event"}})

    def take_a_number() -> int:
        answer = client.update_item(TableName="t", Key={"PK": {"S": "event"}}, UpdateExpression="ADD seq :one",
                                    ExpressionAttributeValues={":one": {"N": "1"}}, ReturnValues="UPDATED_NEW")
        return int(answer["Attributes"]["seq"]["N"])

    # The moment moto has applied the first update, and before it answers, a second request arrives.
    applied_first = DynamoDBBackend.update_item
    rival: list[int] = []

    def then_a_rival(self, *args, **kwargs):
        result = applied_first(self, *args, **kwargs)
        if not rival:
            rival.append(0)
            other = threading.Thread(target=lambda: rival.append(take_a_number()))
            other.start()
            other.join(timeout=1)  # it must wait for this request's answer, so it cannot finish here
            assert other.is_alive()  # noqa: S101 - inside the test's own hook
        return result

    monkeypatch.setattr(DynamoDBBackend, "update_item", then_a_rival)
    first = take_a_number()
    for _ in range(100):
        if len(rival) == 2:
            break
        threading.Event().wait(0.05)
    assert (first, rival[1:]) == (1, [2])
