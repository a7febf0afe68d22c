"""Creates the table and queues that infra/resources.yaml deploys, in whatever AWS boto3 points at (moto)."""
from __future__ import annotations

from pathlib import Path

import yaml

from chalicelib.wiring import RESOURCES

INFRA = Path(__file__).resolve().parent.parent / "infra" / "resources.yaml"

SENDER_DOMAIN = "peerpost.example.org"


class _CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation YAML; intrinsic functions (!Ref, !GetAtt, !Sub, ...) become plain dicts."""


def _intrinsic(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {f"Fn::{suffix}" if suffix != "Ref" else "Ref": value}


_CfnLoader.add_multi_constructor("!", _intrinsic)


def template() -> dict:
    # _CfnLoader is a SafeLoader that only adds CloudFormation's tags.
    return yaml.load(INFRA.read_text(), Loader=_CfnLoader)  # nosec B506


def resources(kind: str) -> dict[str, dict]:
    return {name: r.get("Properties", {}) for name, r in template()["Resources"].items() if r["Type"] == kind}


def table_definition(logical_id: str = "PeerPostTable") -> dict:
    """CreateTable arguments for a table in the template (TTL is set separately)."""
    props = resources("AWS::DynamoDB::Table")[logical_id]
    definition = {
        "TableName": RESOURCES[logical_id],
        "BillingMode": props["BillingMode"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
    }
    if props.get("GlobalSecondaryIndexes"):
        definition["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
    return definition


def create_all(session) -> dict[str, str]:
    """Create every table, queue and topic; returns logical id -> name/url/arn."""
    created: dict[str, str] = {}
    dynamodb = session.client("dynamodb")
    for logical_id, props in resources("AWS::DynamoDB::Table").items():
        dynamodb.create_table(**table_definition(logical_id))
        ttl = props.get("TimeToLiveSpecification")
        if ttl:
            dynamodb.update_time_to_live(TableName=RESOURCES[logical_id], TimeToLiveSpecification=ttl)
        created[logical_id] = RESOURCES[logical_id]
    sqs = session.client("sqs")
    queues = resources("AWS::SQS::Queue")
    # Dead-letter queues first, so redrive policies can name them.
    for logical_id in sorted(queues, key=lambda name: "RedrivePolicy" in queues[name]):
        props = queues[logical_id]
        attributes = {}
        if "VisibilityTimeout" in props:
            attributes["VisibilityTimeout"] = str(props["VisibilityTimeout"])
        if "MessageRetentionPeriod" in props:
            attributes["MessageRetentionPeriod"] = str(props["MessageRetentionPeriod"])
        if "RedrivePolicy" in props:
            dlq_id = props["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"].split(".")[0]
            dlq_url = created[dlq_id]
            dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            attributes["RedrivePolicy"] = (
                '{"deadLetterTargetArn": "%s", "maxReceiveCount": "%s"}'
                % (dlq_arn, props["RedrivePolicy"]["maxReceiveCount"])
            )
        created[logical_id] = sqs.create_queue(QueueName=RESOURCES[logical_id], Attributes=attributes)["QueueUrl"]
    sns = session.client("sns")
    for logical_id in resources("AWS::SNS::Topic"):
        created[logical_id] = sns.create_topic(Name=RESOURCES[logical_id])["TopicArn"]
    s3 = session.client("s3")
    for logical_id in resources("AWS::S3::Bucket"):
        s3.create_bucket(Bucket=RESOURCES[logical_id],
                         CreateBucketConfiguration={"LocationConstraint": session.region_name})
        created[logical_id] = RESOURCES[logical_id]
    session.client("sesv2").create_email_identity(EmailIdentity=SENDER_DOMAIN)
    return created
