"""What moto skips or ignores (TTL, SES, alarms, encryption), checked on infra/resources.yaml itself."""
from __future__ import annotations

from chalicelib import wiring
from localdev import stack

TEMPLATE = stack.template()
RESOURCES = TEMPLATE["Resources"]


def of_type(kind: str) -> dict:
    return {name: r for name, r in RESOURCES.items() if r["Type"] == kind}


def test_the_table_expires_items_keeps_backups_is_encrypted_and_cannot_be_deleted_by_accident():
    table = RESOURCES["PeerPostTable"]
    props = table["Properties"]
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["SSESpecification"] == {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": {"Ref": "DataKey"}}
    assert props["DeletionProtectionEnabled"] is True
    assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain"


def test_the_data_key_rotates_and_its_policy_names_every_principal():
    key = RESOURCES["DataKey"]["Properties"]
    assert key["EnableKeyRotation"] is True
    for statement in key["KeyPolicy"]["Statement"]:
        assert statement["Principal"] != "*" and statement["Principal"] != {"AWS": "*"}
        if "Service" in statement["Principal"]:
            assert "Condition" in statement, statement["Sid"]


def test_every_queue_and_topic_is_encrypted_with_the_data_key():
    for name, resource in {**of_type("AWS::SQS::Queue"), **of_type("AWS::SNS::Topic")}.items():
        key = resource["Properties"].get("KmsMasterKeyId")
        assert key == {"Ref": "DataKey"}, name


def test_every_work_queue_has_a_dead_letter_queue_that_keeps_messages_for_replay():
    """Ids only (dispatch, send): two weeks. Addresses (sign-ups): four days, and one day queued.
    Imports (an import's id; the file it names is kept two days): four days, and one day queued."""
    queues = of_type("AWS::SQS::Queue")
    work = {n: q for n, q in queues.items() if "RedrivePolicy" in q["Properties"]}
    days = {"DispatchQueue": 14, "SendQueue": 14, "SignupQueue": 4, "ImportQueue": 4}
    assert set(work) == set(days)
    for name, queue in work.items():
        dlq = queue["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"].split(".")[0]
        assert queues[dlq]["Properties"]["MessageRetentionPeriod"] == days[name] * 24 * 3600, name
    assert queues["SignupQueue"]["Properties"]["MessageRetentionPeriod"] == 24 * 3600
    assert queues["ImportQueue"]["Properties"]["MessageRetentionPeriod"] == 24 * 3600


def test_ses_sends_through_a_configuration_set_that_publishes_bounces_and_complaints_to_the_topic():
    configuration_set = RESOURCES["SesConfigurationSet"]["Properties"]
    assert configuration_set["ReputationOptions"]["ReputationMetricsEnabled"] is True
    assert configuration_set["DeliveryOptions"]["TlsPolicy"] == "REQUIRE"
    destination = RESOURCES["SesEventDestination"]["Properties"]
    assert destination["ConfigurationSetName"] == {"Ref": "SesConfigurationSet"}
    assert destination["EventDestination"]["Enabled"] is True
    assert set(destination["EventDestination"]["MatchingEventTypes"]) == {"bounce", "complaint"}
    assert destination["EventDestination"]["SnsDestination"]["TopicARN"] == {"Ref": "SesEventsTopic"}
    identity = RESOURCES["SenderIdentity"]["Properties"]
    assert identity["EmailIdentity"] == {"Ref": "SenderDomain"}
    assert identity["DkimAttributes"]["SigningEnabled"] is True
    assert identity["MailFromAttributes"]["MailFromDomain"] == {"Fn::Sub": "${MailFromSubdomain}.${SenderDomain}"}


def test_only_ses_from_this_account_may_publish_to_the_events_topic():
    (statement,) = RESOURCES["SesEventsTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "ses.amazonaws.com"}
    assert statement["Action"] == "sns:Publish"
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}


def _alarm(metric: str, namespace: str) -> dict:
    (alarm,) = [a["Properties"] for a in of_type("AWS::CloudWatch::Alarm").values()
                if a["Properties"]["MetricName"] == metric and a["Properties"]["Namespace"] == namespace]
    assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    return alarm


def test_alarms_watch_bounce_and_complaint_rates_below_the_levels_ses_acts_on():
    assert _alarm("Reputation.BounceRate", "AWS/SES")["Threshold"] == 0.04
    assert _alarm("Reputation.ComplaintRate", "AWS/SES")["Threshold"] == 0.0008


def test_alarms_watch_send_failures_and_every_dead_letter_queue():
    assert _alarm("NewsletterFailed", "PeerPost")["Threshold"] == 0
    watched = {a["Properties"]["Dimensions"][0]["Value"]["Fn::GetAtt"].split(".")[0]
               for a in of_type("AWS::CloudWatch::Alarm").values()
               if a["Properties"]["MetricName"] == "ApproximateNumberOfMessagesVisible"}
    assert watched == {"DispatchDeadLetterQueue", "SendDeadLetterQueue", "SignupDeadLetterQueue",
                       "ImportDeadLetterQueue"}


def test_the_deployment_parameters_cover_the_sender_and_the_organisation():
    assert {"SenderDomain", "NewsletterFrom", "TransactionalFrom", "ReplyTo", "OrganisationName",
            "OrganisationAddress", "PublicBaseUrl", "AlarmEmail", "Stage"} <= set(TEMPLATE["Parameters"])


def test_local_mode_creates_every_table_queue_and_topic_of_the_template():
    for kind in ("AWS::DynamoDB::Table", "AWS::SQS::Queue", "AWS::SNS::Topic", "AWS::S3::Bucket"):
        for name in of_type(kind):
            assert name in wiring.RESOURCES, f"{name}: add a local name to chalicelib/wiring.py RESOURCES"


def test_the_image_bucket_is_private_https_only_and_read_only_by_its_distribution():
    bucket = RESOURCES["MediaBucket"]
    assert bucket["DeletionPolicy"] == bucket["UpdateReplacePolicy"] == "Retain"  # sent issues link to it
    assert set(bucket["Properties"]["PublicAccessBlockConfiguration"].values()) == {True}
    statements = RESOURCES["MediaBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    [read] = [s for s in statements if s["Effect"] == "Allow"]
    assert read["Principal"] == {"Service": "cloudfront.amazonaws.com"} and read["Action"] == "s3:GetObject"
    assert "distribution/${MediaDistribution}" in read["Condition"]["StringEquals"]["AWS:SourceArn"]["Fn::Sub"]
    assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in statements)
    behaviour = RESOURCES["MediaDistribution"]["Properties"]["DistributionConfig"]["DefaultCacheBehavior"]
    assert behaviour["ViewerProtocolPolicy"] == "redirect-to-https" and behaviour["AllowedMethods"] == ["GET", "HEAD"]
