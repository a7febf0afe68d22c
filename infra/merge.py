"""Builds the template `chalice package --merge-template` merges into Chalice's own.

It is infra/resources.yaml plus, for every Chalice function: its reviewed role policy, memory and
timeout (infra/functions/<function>.yaml), a KMS-encrypted log group with retention, an errors alarm,
the environment that wires it to the table, queues and configuration set, and its event sources
pointed at the infra/ queues and topic (Chalice decorators name queues and topics statically).
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from chalicelib import wiring
from chalicelib.keys import AUDIT_PREFIX

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS_DIR = ROOT / "infra" / "functions"

# SES's default production sending rate; pass the account's real rate with --ses-send-rate.
DEFAULT_SES_SEND_RATE = 14.0


@dataclass(frozen=True)
class FunctionSpec:
    """One Lambda function of the Chalice app and what triggers it."""

    name: str
    kind: str  # "api", "schedule", "sqs" or "sns"
    source: str = ""  # queue or topic name for sqs/sns

    @property
    def logical_id(self) -> str:
        from chalice.utils import to_cfn_resource_name

        return "APIHandler" if self.kind == "api" else to_cfn_resource_name(self.name)

    @property
    def role_id(self) -> str:
        from chalice.utils import to_cfn_resource_name

        return to_cfn_resource_name(f"{self.name}_role")

    @property
    def event_id(self) -> str:
        from chalice.utils import to_cfn_resource_name

        suffix = {"sqs": "sqs-event-source", "sns": "sns-subscription"}[self.kind]
        return to_cfn_resource_name(f"{self.name}-{suffix}")


def functions_of(app) -> list[FunctionSpec]:
    """Every Lambda function `chalice package` makes from this app."""
    from chalice.app import ScheduledEventConfig, SNSEventConfig, SQSEventConfig

    specs = [FunctionSpec("api_handler", "api")] if app.routes else []
    for config in app.event_sources:
        if isinstance(config, SQSEventConfig):
            specs.append(FunctionSpec(config.name, "sqs", config.queue or ""))
        elif isinstance(config, SNSEventConfig):
            specs.append(FunctionSpec(config.name, "sns", config.topic))
        elif isinstance(config, ScheduledEventConfig):
            specs.append(FunctionSpec(config.name, "schedule"))
        else:
            raise ValueError(f"{config.name}: no packaging rule for {type(config).__name__}")
    return specs


def app_functions() -> list[FunctionSpec]:
    sys.path.insert(0, str(ROOT))
    from app import app

    return functions_of(app)


def missing_function_files(specs: list[FunctionSpec]) -> list[str]:
    return sorted(s.name for s in specs if not (FUNCTIONS_DIR / f"{s.name}.yaml").exists())


def _normalise(node):
    """YAML short-form intrinsics as JSON CloudFormation wants them (GetAtt as a list)."""
    if isinstance(node, dict):
        out = {key: _normalise(value) for key, value in node.items()}
        if isinstance(out.get("Fn::GetAtt"), str):
            out["Fn::GetAtt"] = out["Fn::GetAtt"].split(".", 1)
        return out
    if isinstance(node, list):
        return [_normalise(value) for value in node]
    return node


def load_yaml(path: Path) -> dict:
    from localdev.stack import _CfnLoader

    return _normalise(yaml.load(path.read_text(), Loader=_CfnLoader))  # nosec B506 - SafeLoader subclass


def function_file(name: str) -> dict:
    return load_yaml(FUNCTIONS_DIR / f"{name}.yaml")


def _queue_ids() -> dict[str, str]:
    return wiring.LOGICAL_IDS


# What the deployed environment gives each Settings field (by field: the variable's name is wiring's).
def _deployed_values(ses_send_rate: float) -> dict:
    return {
        "stage": {"Ref": "Stage"},
        "table_name": {"Ref": "PeerPostTable"},
        "dispatch_queue": {"Fn::GetAtt": ["DispatchQueue", "QueueName"]},
        "send_queue": {"Fn::GetAtt": ["SendQueue", "QueueName"]},
        "signup_queue": {"Fn::GetAtt": ["SignupQueue", "QueueName"]},
        "import_queue": {"Fn::GetAtt": ["ImportQueue", "QueueName"]},
        "ses_configuration_set": {"Ref": "SesConfigurationSet"},
        "signing_secret_parameter": {"Fn::Sub": "/peerpost/${Stage}/signing-secret"},
        "public_base_url": {"Ref": "PublicBaseUrl"},
        "media_bucket": {"Ref": "MediaBucket"},
        "media_base_url": {"Fn::Sub": "https://${MediaDistribution.DomainName}"},
        "organisation_name": {"Ref": "OrganisationName"},
        "organisation_address": {"Ref": "OrganisationAddress"},
        "newsletter_from": {"Ref": "NewsletterFrom"},
        "transactional_from": {"Ref": "TransactionalFrom"},
        "reply_to": {"Ref": "ReplyTo"},
        "list_id": {"Ref": "ListId"},
        "unsubscribe_mailto": {"Ref": "UnsubscribeMailto"},
        "safeguarding_email": {"Ref": "SafeguardingEmail"},
        "send_rate_per_second": f"{ses_send_rate:g}",
        # The very number the send function is capped to below: each sender paces to rate / this.
        "send_concurrency": str(wiring.send_concurrency(ses_send_rate)),
    }


def _environment(ses_send_rate: float) -> dict:
    variables = {wiring.ENV[field]: value for field, value in _deployed_values(ses_send_rate).items()}
    return {**variables, "POWERTOOLS_SERVICE_NAME": wiring.SERVICE,
            "POWERTOOLS_TRACE_DISABLED": {"Fn::If": ["TracingOn", "false", "true"]}}


def _baseline_policy(spec: FunctionSpec, queue_ids: dict) -> dict:
    log_group = f"arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:/aws/lambda/${{AWS::StackName}}-{spec.name}"
    statements = [
        {"Sid": "OwnLogGroup", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": {"Fn::Sub": f"{log_group}:*"}},
        {"Sid": "DataKey", "Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
         "Resource": {"Fn::GetAtt": ["DataKey", "Arn"]}},
        # The audit trail is append-only for every function: its entries can be written, never changed or
        # deleted (a TransactWriteItems is checked as the Update or Delete it holds). TTL expiry is DynamoDB's.
        {"Sid": "AuditTrailIsAppendOnly", "Effect": "Deny",
         "Action": ["dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"],
         "Resource": {"Fn::GetAtt": ["PeerPostTable", "Arn"]},
         "Condition": {"ForAnyValue:StringLike": {"dynamodb:LeadingKeys": [f"{AUDIT_PREFIX}*"]}}},
    ]
    if spec.kind == "sqs":
        # SAM adds the poller's permissions only to roles it makes itself; these roles are Chalice's.
        statements.append({
            "Sid": "PollOwnQueue", "Effect": "Allow",
            "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
                       "sqs:ChangeMessageVisibility"],
            "Resource": {"Fn::GetAtt": [queue_ids[spec.source], "Arn"]}})
    return {"PolicyName": "baseline", "PolicyDocument": {"Version": "2012-10-17", "Statement": statements}}


# X-Ray has no resource-level permissions: "*" is the only resource these actions take.
_TRACING_POLICY = {"Fn::If": ["TracingOn", {
    "PolicyName": "tracing",
    "PolicyDocument": {"Version": "2012-10-17", "Statement": [
        {"Sid": "XRayHasNoResourceLevelPermissions", "Effect": "Allow",
         "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], "Resource": "*"}]},
}, {"Ref": "AWS::NoValue"}]}

_SKIPS = {
    "CKV_AWS_117": "No VPC: the functions reach only DynamoDB, SQS, SES and SSM over TLS with IAM; "
                   "a VPC would add NAT cost and cold start for a volunteer-run charity and protect nothing.",
    "CKV_AWS_116": "Failures are kept where they can be replayed: SQS sources redrive to the queues' "
                   "dead-letter queues, schedules run again next tick, SNS retries; alarms cover errors.",
}


def _replacing_sub(expression: str) -> dict:
    """Chalice writes queue and topic ARNs as {"Fn::Sub": ...} from the decorator's static name, and the
    merge is a deep merge: only the same single key replaces that value instead of joining it."""
    return {"Fn::Sub": expression}


def _function(spec: FunctionSpec, settings: dict, ses_send_rate: float, queue_ids: dict) -> dict:
    props = {
        "FunctionName": {"Fn::Sub": f"${{AWS::StackName}}-{spec.name}"},
        "MemorySize": settings.get("MemorySize", 256),
        "Timeout": settings.get("Timeout", 30),
        "Tracing": {"Ref": "Tracing"},
        "KmsKeyArn": {"Fn::GetAtt": ["DataKey", "Arn"]},
        "Environment": {"Variables": _environment(ses_send_rate)},
    }
    skips = dict(_SKIPS)
    if spec.kind == "sqs":
        queue_id = queue_ids[spec.source]
        event = {"Queue": _replacing_sub(f"${{{queue_id}.Arn}}"), "FunctionResponseTypes": ["ReportBatchItemFailures"]}
        if spec.source == wiring.SEND_QUEUE:
            senders = wiring.send_concurrency(ses_send_rate)
            props["ReservedConcurrentExecutions"] = senders
            event["ScalingConfig"] = {"MaximumConcurrency": senders}
        props["Events"] = {spec.event_id: {"Properties": event}}
    elif spec.kind == "sns":
        props["Events"] = {spec.event_id: {"Properties": {"Topic": _replacing_sub(f"${{{queue_ids[spec.source]}}}")}}}
    if "ReservedConcurrentExecutions" not in props:
        skips["CKV_AWS_115"] = ("Only the sender is capped (to the SES rate); capping the others would take "
                                "from the account's small unreserved pool and throttle people at the door.")
    if "ReservedConcurrentExecutions" in settings:
        props["ReservedConcurrentExecutions"] = settings["ReservedConcurrentExecutions"]
        skips.pop("CKV_AWS_115", None)
    return {
        "DependsOn": [f"{spec.logical_id}LogGroup"],
        "Metadata": {"checkov": {"skip": [{"id": k, "comment": v} for k, v in sorted(skips.items())]}},
        "Properties": props,
    }


def merge_template(specs: list[FunctionSpec], ses_send_rate: float = DEFAULT_SES_SEND_RATE) -> dict:
    missing = missing_function_files(specs)
    if missing:
        raise SystemExit(f"No reviewed infra/functions/<name>.yaml for: {', '.join(missing)}")
    template = load_yaml(ROOT / "infra" / "resources.yaml")
    template["Parameters"]["Tracing"] = {
        "Type": "String", "Default": "PassThrough", "AllowedValues": ["PassThrough", "Active"],
        "Description": "Active turns on X-Ray tracing (powertools Tracer); it costs cold start, so off by default.",
    }
    template["Conditions"]["TracingOn"] = {"Fn::Equals": [{"Ref": "Tracing"}, "Active"]}
    resources = template["Resources"]
    queue_ids = _queue_ids()
    for spec in specs:
        settings = function_file(spec.name)
        fid = spec.logical_id
        resources[fid] = _function(spec, settings, ses_send_rate, queue_ids)
        resources[spec.role_id] = {"Properties": {"Policies": [
            _baseline_policy(spec, queue_ids),
            {"PolicyName": "reviewed",
             "PolicyDocument": {"Version": "2012-10-17", "Statement": settings["Policy"]}},
            _TRACING_POLICY,
        ]}}
        resources[f"{fid}LogGroup"] = {
            "Type": "AWS::Logs::LogGroup",
            "DeletionPolicy": "Delete",
            "UpdateReplacePolicy": "Delete",
            "Properties": {
                "LogGroupName": {"Fn::Sub": f"/aws/lambda/${{AWS::StackName}}-{spec.name}"},
                "RetentionInDays": {"Ref": "LogRetentionDays"},
                "KmsKeyId": {"Fn::GetAtt": ["DataKey", "Arn"]},
            },
        }
        resources[f"{fid}ErrorsAlarm"] = {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "AlarmDescription": f"The {spec.name} function raised errors in the last 5 minutes.",
                "Namespace": "AWS/Lambda", "MetricName": "Errors",
                "Dimensions": [{"Name": "FunctionName", "Value": {"Ref": fid}}],
                "Statistic": "Sum", "Period": 300, "EvaluationPeriods": 1, "Threshold": 0,
                "ComparisonOperator": "GreaterThanThreshold", "TreatMissingData": "notBreaching",
                "AlarmActions": [{"Ref": "AlarmTopic"}],
            },
        }
    _api(resources)
    return template


# Access log lines: the route template (never the path, which carries tokens), no client IP.
_ACCESS_LOG_FORMAT = json.dumps({
    "requestId": "$context.requestId", "time": "$context.requestTimeEpoch", "method": "$context.httpMethod",
    "route": "$context.resourcePath", "status": "$context.status", "bytes": "$context.responseLength",
    "latencyMs": "$context.responseLatency", "integrationMs": "$context.integrationLatency",
}, separators=(",", ":"))


def _api(resources: dict) -> None:
    """Access logs and optional tracing for Chalice's REST API."""
    resources["ApiAccessLogGroup"] = {
        "Type": "AWS::Logs::LogGroup",
        "DeletionPolicy": "Delete",
        "UpdateReplacePolicy": "Delete",
        "Properties": {
            "LogGroupName": {"Fn::Sub": "/aws/apigateway/${AWS::StackName}-access"},
            "RetentionInDays": {"Ref": "LogRetentionDays"},
            "KmsKeyId": {"Fn::GetAtt": ["DataKey", "Arn"]},
        },
    }
    # API Gateway writes logs through one role per account and region (an account setting).
    resources["ApiGatewayLoggingRole"] = {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "apigateway.amazonaws.com"},
                 "Action": "sts:AssumeRole"}]},
            "Policies": [{"PolicyName": "access-logs", "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Sid": "WriteThisStacksAccessLogs", "Effect": "Allow",
                 "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                 "Resource": {"Fn::Sub": "${ApiAccessLogGroup.Arn}"}},
                {"Sid": "FindLogGroups", "Effect": "Allow", "Action": "logs:DescribeLogGroups",
                 "Resource": {"Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:*"}},
            ]}}],
        },
    }
    resources["ApiGatewayAccount"] = {
        "Type": "AWS::ApiGateway::Account",
        "Properties": {"CloudWatchRoleArn": {"Fn::GetAtt": ["ApiGatewayLoggingRole", "Arn"]}},
    }
    resources["RestAPI"] = {
        "DependsOn": ["ApiGatewayAccount"],
        "Metadata": {"checkov": {"skip": [
            {"id": "CKV_AWS_120", "comment": "No caching: pages carry per-person tokens and CSRF fields; "
                                             "a cache would show one person's page to another."},
            {"id": "CKV_AWS_73", "comment": "X-Ray follows the stack's Tracing parameter (off by default: "
                                            "tracing costs cold start)."},
        ]}},
        "Properties": {
            "TracingEnabled": {"Fn::If": ["TracingOn", True, False]},
            "AccessLogSetting": {"DestinationArn": {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]},
                                 "Format": _ACCESS_LOG_FORMAT},
        },
    }


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("--ses-send-rate", type=float, default=DEFAULT_SES_SEND_RATE)
    args = parser.parse_args(argv)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(merge_template(app_functions(), args.ses_send_rate), indent=1) + "\n")


if __name__ == "__main__":
    main()
