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
    # Only the sender killed between its claim and SES can leave someone without a copy: failed, with a reason.
    unsent = [r for r, n in copies.items() if n == 0]
    assert len(unsent) <= 1 and all(outcomes[r] == "failed" for r in unsent)


def test_the_dynamodb_stand_ins_quicker_query_answers_exactly_as_moto_does(aws_mock, monkeypatch):
    """bench/harness/motoserver.py spares moto's sort of the whole table on each Query; the answers,
    their order and their pages must stay moto's own, on the table and on an index, both directions."""
    import boto3
    from boto3.dynamodb.conditions import Attr, Key
    from moto.dynamodb.models.table import Table

    from bench.harness import motoserver

    table = boto3.resource("dynamodb", region_name="eu-west-2").create_table(
        TableName="t", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("PK", "SK", "G", "GS")],
        GlobalSecondaryIndexes=[{"IndexName": "by-g", "Projection": {"ProjectionType": "ALL"}, "KeySchema": [
            {"AttributeName": "G", "KeyType": "HASH"}, {"AttributeName": "GS", "KeyType": "RANGE"}]}])
    with table.batch_writer() as batch:
        for i in range(60):
            batch.put_item(Item={"PK": f"P#{i % 4}", "SK": f"S#{59 - i:03}", "n": i,
                                 **({"G": f"g{i % 3}", "GS": f"{i % 5}"} if i % 7 else {})})
    queries = [dict(KeyConditionExpression=Key("PK").eq("P#1")),
               dict(KeyConditionExpression=Key("PK").eq("P#2") & Key("SK").begins_with("S#0"), ScanIndexForward=False),
               dict(KeyConditionExpression=Key("PK").eq("P#3"), FilterExpression=Attr("n").gt(20), Limit=4),
               dict(IndexName="by-g", KeyConditionExpression=Key("G").eq("g1")),
               dict(IndexName="by-g", KeyConditionExpression=Key("G").eq("g2") & Key("GS").gte("2"), ScanIndexForward=False),
               dict(IndexName="by-g", KeyConditionExpression=Key("G").eq("g0"), Limit=3),
               dict(KeyConditionExpression=Key("PK").eq("P#9"))]

    def pages(query: dict) -> list:
        answers, start = [], None
        while True:
            page = table.query(**query, **({"ExclusiveStartKey": start} if start else {}))
            answers.append(([item["n"] for item in page["Items"]], page.get("LastEvaluatedKey")))
            start = page.get("LastEvaluatedKey")
            if not start:
                return answers

    as_moto_answers = [pages(q) for q in queries]
    monkeypatch.setattr(Table, "query", motoserver.query_without_the_table_sort(Table.query))
    assert [pages(q) for q in queries] == as_moto_answers
    assert len(as_moto_answers[2]) > 1 and len(as_moto_answers[5]) > 1 and as_moto_answers[6] == [([], None)]
