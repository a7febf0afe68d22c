"""infra/resources.yaml deployed into moto's CloudFormation creates what the application expects."""
from __future__ import annotations

import json

import pytest

from localdev import stack
from tests.conftest import REGION

pytestmark = [
    pytest.mark.usefixtures("aws_mock"),
    # SES resources and alarms are skipped by moto; tests/infra/test_template.py checks them on the template.
    pytest.mark.filterwarnings("ignore:Tried to parse:UserWarning"),
]


@pytest.fixture
def deployed():
    import boto3

    cfn = boto3.client("cloudformation", region_name=REGION)
    cfn.create_stack(StackName="peerpost-test", TemplateBody=stack.INFRA.read_text())
    resources = cfn.describe_stack_resources(StackName="peerpost-test")["StackResources"]
    return {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources if "LogicalResourceId" in r}


def test_the_table_has_the_keys_and_indexes_the_application_queries(deployed):
    import boto3

    table = boto3.client("dynamodb", region_name=REGION).describe_table(TableName=deployed["PeerPostTable"])["Table"]
    expected = stack.table_definition()
    assert table["KeySchema"] == [{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}]
    indexes = {i["IndexName"]: i for i in table["GlobalSecondaryIndexes"]}
    assert set(indexes) == {"GSI1", "GSI2"}
    for name in ("GSI1", "GSI2"):
        assert indexes[name]["KeySchema"] == [{"AttributeName": f"{name}PK", "KeyType": "HASH"},
                                              {"AttributeName": f"{name}SK", "KeyType": "RANGE"}]
        assert indexes[name]["Projection"] == {"ProjectionType": "ALL"}
    assert sorted(a["AttributeName"] for a in table["AttributeDefinitions"]) == sorted(
        a["AttributeName"] for a in expected["AttributeDefinitions"])
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"


def test_the_application_can_write_and_query_the_deployed_table(deployed, monkeypatch):
    from chalicelib import aws, keys, settings

    monkeypatch.setenv("PEERPOST_TABLE", deployed["PeerPostTable"])
    settings.reset()
    aws.reset()
    aws.table().put_item(Item={**keys.subscriber("abc"), **keys.subscriber_index("pending", "2026-01-01", "abc")})
    from boto3.dynamodb.conditions import Key

    found = aws.table().query(IndexName="GSI1", KeyConditionExpression=Key("GSI1PK").eq(keys.subscribers_by_status("pending")))
    assert [i["PK"] for i in found["Items"]] == ["SUB#abc"]


@pytest.mark.parametrize("queue, dead_letter, max_receives", [
    ("DispatchQueue", "DispatchDeadLetterQueue", 5),
    ("SendQueue", "SendDeadLetterQueue", 8),
    ("SignupQueue", "SignupDeadLetterQueue", 5),
])
def test_each_work_queue_redrives_to_its_dead_letter_queue(deployed, queue, dead_letter, max_receives):
    import boto3

    sqs = boto3.client("sqs", region_name=REGION)
    attributes = sqs.get_queue_attributes(QueueUrl=deployed[queue], AttributeNames=["All"])["Attributes"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=deployed[dead_letter], AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = json.loads(attributes["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == dlq_arn
    assert int(redrive["maxReceiveCount"]) == max_receives


def test_the_ses_events_topic_exists(deployed):
    import boto3

    topics = [t["TopicArn"] for t in boto3.client("sns", region_name=REGION).list_topics()["Topics"]]
    assert deployed["SesEventsTopic"] in topics
