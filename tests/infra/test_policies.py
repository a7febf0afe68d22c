"""Least privilege: one reviewed role per function, no "*" actions, no "*" resources that could be named."""
from __future__ import annotations

import pytest

from infra import merge

# The only statements allowed a "*" resource, and why: X-Ray has no resource-level permissions;
# the data key's own policy is about itself ("*" in a key policy means this key).
STAR_RESOURCE_SIDS = {"XRayHasNoResourceLevelPermissions"}


def test_every_chalice_function_has_its_reviewed_policy_file():
    missing = merge.missing_function_files(merge.app_functions())
    assert not missing, (
        f"No reviewed policy for {', '.join(missing)}: add infra/functions/<name>.yaml "
        "(MemorySize, Timeout, Policy) granting only what the handler uses (see infra/functions/README.md)")


def test_no_policy_file_is_left_without_its_function():
    names = {spec.name for spec in merge.app_functions()}
    orphans = sorted(p.stem for p in merge.FUNCTIONS_DIR.glob("*.yaml") if p.stem not in names)
    assert not orphans, f"infra/functions/ has policies for functions app.py no longer has: {orphans}"


def _statements(policies: list):
    for policy in policies:
        if "Fn::If" in policy:
            policy = policy["Fn::If"][1]
        for statement in policy["PolicyDocument"]["Statement"]:
            yield statement


def _as_list(value):
    return value if isinstance(value, list) else [value]


def test_every_function_runs_as_its_own_role_with_only_reviewed_statements(sam):
    resources = sam["Resources"]
    functions = {n: r for n, r in resources.items() if r["Type"] == "AWS::Serverless::Function"}
    specs = {s.logical_id: s for s in merge.app_functions()}
    assert set(functions) == set(specs)
    roles = [f["Properties"]["Role"]["Fn::GetAtt"][0] for f in functions.values()]
    assert len(set(roles)) == len(roles), "functions share a role"
    for logical_id, function in functions.items():
        role = resources[function["Properties"]["Role"]["Fn::GetAtt"][0]]
        reviewed = merge.function_file(specs[logical_id].name)["Policy"]
        documents = {p["PolicyName"]: p["PolicyDocument"] for p in role["Properties"]["Policies"] if "PolicyName" in p}
        assert documents["reviewed"]["Statement"] == reviewed
        for statement in _statements(role["Properties"]["Policies"]):
            assert statement["Sid"] != "PlaceholderReplacedByInfraFunctions"


def test_no_role_grants_a_star_action_or_a_star_resource_that_could_be_named(sam):
    for name, resource in sam["Resources"].items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        for statement in _statements(resource["Properties"]["Policies"]):
            for action in _as_list(statement["Action"]):
                assert "*" not in action, f"{name}: {action}"
            if statement.get("Sid") not in STAR_RESOURCE_SIDS:
                assert "*" not in _as_list(statement["Resource"]), f"{name}: {statement.get('Sid')}"


def _spec_files(tmp_path, monkeypatch, *names):
    monkeypatch.setattr(merge, "FUNCTIONS_DIR", tmp_path)
    for name in names:
        (tmp_path / f"{name}.yaml").write_text(
            "MemorySize: 512\nTimeout: 60\nPolicy:\n  - Sid: Read\n    Effect: Allow\n"
            "    Action: dynamodb:GetItem\n    Resource: !GetAtt PeerPostTable.Arn\n")


def test_a_handler_without_a_policy_file_stops_packaging_and_is_named(tmp_path, monkeypatch):
    _spec_files(tmp_path, monkeypatch, "api_handler")
    specs = [merge.FunctionSpec("api_handler", "api"), merge.FunctionSpec("remind_attendees", "schedule")]
    with pytest.raises(SystemExit, match="remind_attendees"):
        merge.merge_template(specs)


def test_queue_handlers_report_partial_failures_from_the_infra_queues(tmp_path, monkeypatch):
    _spec_files(tmp_path, monkeypatch, "dispatch_issue", "send_batch")
    specs = [merge.FunctionSpec("dispatch_issue", "sqs", "peerpost-dispatch"),
             merge.FunctionSpec("send_batch", "sqs", "peerpost-send")]
    resources = merge.merge_template(specs, ses_send_rate=14)["Resources"]
    dispatch = resources["DispatchIssue"]["Properties"]
    event = dispatch["Events"]["DispatchIssueSqsEventSource"]["Properties"]
    assert event["Queue"] == {"Fn::Sub": "${DispatchQueue.Arn}"}
    assert event["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert "ReservedConcurrentExecutions" not in dispatch
    send = resources["SendBatch"]["Properties"]
    event = send["Events"]["SendBatchSqsEventSource"]["Properties"]
    assert event["Queue"] == {"Fn::Sub": "${SendQueue.Arn}"}
    assert event["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert send["MemorySize"] == 512 and send["Timeout"] == 60
    (baseline,) = [p for p in resources["SendBatchRole"]["Properties"]["Policies"] if p.get("PolicyName") == "baseline"]
    (poll,) = [s for s in baseline["PolicyDocument"]["Statement"] if s["Sid"] == "PollOwnQueue"]
    assert poll["Resource"] == {"Fn::GetAtt": ["SendQueue", "Arn"]}
    assert {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"} <= set(poll["Action"])


@pytest.mark.parametrize("rate, senders", [(1, 2), (14, 3), (50, 10), (200, 40)])
def test_the_sender_is_capped_to_the_ses_send_rate(tmp_path, monkeypatch, rate, senders):
    _spec_files(tmp_path, monkeypatch, "send_batch")
    resources = merge.merge_template([merge.FunctionSpec("send_batch", "sqs", "peerpost-send")], rate)["Resources"]
    send = resources["SendBatch"]["Properties"]
    assert send["ReservedConcurrentExecutions"] == senders
    assert send["Events"]["SendBatchSqsEventSource"]["Properties"]["ScalingConfig"] == {"MaximumConcurrency": senders}
    assert send["Environment"]["Variables"]["PEERPOST_SEND_RATE_PER_SECOND"] == f"{rate:g}"
    assert send["Environment"]["Variables"]["PEERPOST_SEND_CONCURRENCY"] == str(senders)


def test_queue_visibility_outlasts_the_handler_that_consumes_it():
    template = merge.load_yaml(merge.ROOT / "infra" / "resources.yaml")
    queue_ids = merge._queue_ids()
    for spec in merge.app_functions():
        if spec.kind == "sqs":
            queue = template["Resources"][queue_ids[spec.source]]["Properties"]
            # Lambda refuses an event source whose queue would re-deliver mid-invocation.
            assert queue["VisibilityTimeout"] >= merge.function_file(spec.name)["Timeout"], spec.name


def test_the_ses_events_handler_subscribes_to_the_infra_topic(sam):
    events = sam["Resources"]["SesEvents"]["Properties"]["Events"]
    assert events["SesEventsSnsSubscription"] == {"Type": "SNS", "Properties": {"Topic": {"Fn::Sub": "${SesEventsTopic}"}}}


def test_every_function_is_wired_to_the_deployed_resources_and_alarmed(sam):
    resources = sam["Resources"]
    for name, resource in resources.items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        variables = resource["Properties"]["Environment"]["Variables"]
        assert variables["PEERPOST_TABLE"] == {"Ref": "PeerPostTable"}
        assert variables["PEERPOST_SES_CONFIGURATION_SET"] == {"Ref": "SesConfigurationSet"}
        assert variables["PEERPOST_SEND_QUEUE"] == {"Fn::GetAtt": ["SendQueue", "QueueName"]}
        alarm = resources[f"{name}ErrorsAlarm"]["Properties"]
        assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": name}}]
        assert resources[f"{name}LogGroup"]["Properties"]["KmsKeyId"] == {"Fn::GetAtt": ["DataKey", "Arn"]}


def test_uploads_reach_the_api_intact_and_only_the_api_may_store_images(sam):
    resources = sam["Resources"]
    api = resources["RestAPI"]["Properties"]["DefinitionBody"]
    assert "multipart/form-data" in api["x-amazon-apigateway-binary-media-types"]
    for name, resource in resources.items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        variables = resource["Properties"]["Environment"]["Variables"]
        assert variables["PEERPOST_MEDIA_BUCKET"] == {"Ref": "MediaBucket"}
        assert variables["PEERPOST_MEDIA_BASE_URL"] == {"Fn::Sub": "https://${MediaDistribution.DomainName}"}
        role = resources[resource["Properties"]["Role"]["Fn::GetAtt"][0]]
        statements = _statements(role["Properties"]["Policies"])
        touches_s3 = [s for s in statements if any(a.startswith("s3:") for a in _as_list(s["Action"]))]
        if name == "APIHandler":  # images, and the lists coordinators upload to import (and their reports)
            assert {s["Resource"]["Fn::Sub"]: sorted(s["Action"]) for s in touches_s3} == {
                "${MediaBucket.Arn}/images/*": ["s3:GetObject", "s3:PutObject"],
                "${MediaBucket.Arn}/imports/*": ["s3:GetObject", "s3:PutObject"]}
        elif name == "ImportSubscribers":  # reads the upload, writes the report, deletes the upload when done
            [files] = touches_s3
            assert files["Resource"] == {"Fn::Sub": "${MediaBucket.Arn}/imports/*"}
            assert sorted(files["Action"]) == ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"]
        else:
            assert touches_s3 == [], name


def test_no_deployed_function_may_update_or_delete_an_audit_entry(sam):
    """The audit trail is append-only in AWS too: every function's role denies changing AUDIT# items."""
    functions = [r for r in sam["Resources"].values() if r["Type"] == "AWS::Serverless::Function"]
    roles = [sam["Resources"][f["Properties"]["Role"]["Fn::GetAtt"][0]] for f in functions]
    assert len(roles) == len(merge.app_functions())
    for role in roles:
        (deny,) = [s for s in _statements(role["Properties"]["Policies"]) if s.get("Sid") == "AuditTrailIsAppendOnly"]
        assert deny["Effect"] == "Deny" and {"dynamodb:UpdateItem", "dynamodb:DeleteItem"} <= set(deny["Action"])
        assert deny["Condition"] == {"ForAnyValue:StringLike": {"dynamodb:LeadingKeys": ["AUDIT#*"]}}
