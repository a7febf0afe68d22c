"""The chaos test: the send function as `make package` deploys it (batch size, concurrency, pacing, timeout,
environment, redrive), with SES throttling, duplicate SQS deliveries and a sender killed mid-batch.

Runs through bench/harness (moto's server shared by worker processes, the SES stand-in on loopback).
Nothing is timed: generous deadlines only. The queue's visibility is compressed to 12 s so that a
killed sender's message comes back within the test; the delivery lease follows it (the contract).
"""
from __future__ import annotations

from bench.harness import deployed
from bench.harness.run import Scenario, run


def test_300_readers_3_senders_20_percent_throttled_one_killed_and_duplicates_each_get_exactly_one_copy(package):
    deployment = deployed.read(package / "sam.json")
    assert deployment.max_concurrency == 3  # 14/s, the default SES rate: three senders
    result = run(Scenario(subscribers=300, template=package / "sam.json", throttle_share=0.2,
                          duplicate_share=0.5, kill_after_accepted=25, visibility_seconds=12,
                          deadline_seconds=420))
    assert result["killed"] == 1 and result["throttled"] > 0 and result["workers"] == 3
    outcomes, copies = result["outcomes_by_recipient"], result["copies_by_recipient"]
    assert all(status in ("sent", "failed", "suppressed") for status in outcomes.values())  # every one final
    assert result["lost"] == 0 and result["dead_letters"] == 0 and result["issue_status"] == "sent"
    assert max(copies.values()) == 1 and result["duplicates"] == 0  # never two copies
    assert all(copies[r] == 1 for r, status in outcomes.items() if status == "sent")
    # Only the sender killed between its claims and SES can leave anyone without a copy: no more than the
    # copies it may have had in flight, each failed with a reason.
    from chalicelib import settings

    in_flight = settings.from_environ(deployment.environment).send_in_flight
    unsent = [r for r, n in copies.items() if n == 0]
    assert len(unsent) <= in_flight and all(outcomes[r] == "failed" for r in unsent)


def test_the_dynamodb_stand_ins_quicker_answers_are_exactly_moto_s(aws_mock, monkeypatch):
    """bench/harness/motoserver.py spares moto's sort of the whole table on each Query, its second
    walk over each answer and its conversions of whole items to project a few names; the answers
    (items of every type, their order, pages, projections, the item a refused condition or an update
    gives back, unprocessed keys) must stay moto's own."""
    from decimal import Decimal

    import boto3
    from boto3.dynamodb.conditions import Attr, Key
    from botocore.exceptions import ClientError
    from moto.dynamodb.models.dynamo_type import Item
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.responses import DynamoResult

    from bench.harness import motoserver

    resource = boto3.resource("dynamodb", region_name="eu-west-2")
    table = resource.create_table(
        TableName="t", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("PK", "SK", "G", "GS")],
        GlobalSecondaryIndexes=[{"IndexName": "by-g", "Projection": {"ProjectionType": "ALL"}, "KeySchema": [
            {"AttributeName": "G", "KeyType": "HASH"}, {"AttributeName": "GS", "KeyType": "RANGE"}]}])
    with table.batch_writer() as batch:
        for i in range(60):
            batch.put_item(Item={"PK": f"P#{i % 4}", "SK": f"S#{59 - i:03}", "n": i, "f": Decimal("1.5"),
                                 "tags": {"a", f"t{i}"}, "m": {"l": [1, "x", None, True]},
                                 **({"blob": b"\x00\xff"} if i == 5 else {}),
                                 **({"G": f"g{i % 3}", "GS": f"{i % 5}"} if i % 7 else {})})
    queries = [dict(KeyConditionExpression=Key("PK").eq("P#1")),
               dict(KeyConditionExpression=Key("PK").eq("P#2") & Key("SK").begins_with("S#0"), ScanIndexForward=False),
               dict(KeyConditionExpression=Key("PK").eq("P#3"), FilterExpression=Attr("n").gt(20), Limit=4),
               dict(KeyConditionExpression=Key("PK").eq("P#3"), ProjectionExpression="n, m, tags"),
               dict(IndexName="by-g", KeyConditionExpression=Key("G").eq("g1")),
               dict(IndexName="by-g", KeyConditionExpression=Key("G").eq("g2") & Key("GS").gte("2"), ScanIndexForward=False),
               dict(IndexName="by-g", KeyConditionExpression=Key("G").eq("g0"), Limit=3, ProjectionExpression="PK, n"),
               dict(KeyConditionExpression=Key("PK").eq("P#9")),
               dict(KeyConditionExpression=Key("PK").eq("P#0"), ProjectionExpression="#n, nope, SK, m",
                    ExpressionAttributeNames={"#n": "n"}),
               dict(KeyConditionExpression=Key("PK").eq("P#1"), ProjectionExpression="m.l[1], n, tags")]

    def pages(query: dict) -> list:
        answers, start = [], None
        while True:
            page = table.query(**query, **({"ExclusiveStartKey": start} if start else {}))
            answers.append((page["Items"], page["Count"], page.get("LastEvaluatedKey")))
            start = page.get("LastEvaluatedKey")
            if not start:
                return answers

    def answers(round_: int) -> list:
        found = [pages(q) for q in queries]
        found.append(table.get_item(Key={"PK": "P#1", "SK": "S#058"}, ProjectionExpression="n, f, tags")["Item"])
        found.append("Item" in table.get_item(Key={"PK": "P#1", "SK": "none"}))
        found.append(resource.batch_get_item(RequestItems={"t": {"Keys": [
            {"PK": "P#0", "SK": "S#059"}, {"PK": "P#2", "SK": "S#057"}, {"PK": "P#2", "SK": "none"}]}})["Responses"]["t"])
        found.append(resource.batch_get_item(RequestItems={"t": {"Keys": [
            {"PK": "P#1", "SK": f"S#0{n}"} for n in range(40, 60)], "ProjectionExpression": "PK, f, tags, #b, #s",
            "ExpressionAttributeNames": {"#s": "status", "#b": "blob"}}})["Responses"]["t"])
        try:
            table.put_item(Item={"PK": "P#0", "SK": "S#059"}, ConditionExpression="attribute_not_exists(PK)",
                           ReturnValuesOnConditionCheckFailure="ALL_OLD")
        except ClientError as exc:
            found.append((exc.response["Error"]["Code"], exc.response.get("Item")))
        found.append(table.update_item(Key={"PK": "U#1", "SK": "counter"}, UpdateExpression="ADD c :one SET r = :r",
                                       ExpressionAttributeValues={":one": 1, ":r": round_},
                                       ReturnValues="ALL_NEW")["Attributes"])
        found.append(table.put_item(Item={"PK": "N#1", "SK": str(round_)}).get("Attributes"))
        return found

    as_moto_answers = answers(1)
    monkeypatch.setattr(Table, "query", motoserver.query_without_the_table_sort(Table.query))
    projected = []

    def as_moto_projects(item, expressions):
        projected.append(expressions)
        return moto_projects(item, expressions)

    moto_projects = Item.project
    monkeypatch.setattr(Item, "project", motoserver.projections_read_once(as_moto_projects))
    walked = []

    def by_the_model(result, context):
        walked.append(context.operation_model.name)
        return moto_s(result, context)

    moto_s = DynamoResult.execute_result
    monkeypatch.setattr(DynamoResult, "execute_result", motoserver.answers_as_they_are(by_the_model))
    quicker = answers(1)
    quicker[-2]["c"] -= 1  # the update ran twice
    assert quicker == as_moto_answers
    assert walked and set(walked) <= {"Query", "BatchGetItem"} and len(walked) < 5  # only the answers holding the one binary value
    assert projected and all(any("[" in name for path in e for name in path) for e in projected)  # only the nested path went moto's way
    assert len(as_moto_answers[2]) > 1 and len(as_moto_answers[6]) > 1 and as_moto_answers[7] == [([], 0, None)]
