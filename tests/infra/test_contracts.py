"""Contracts between the code and the configuration it is deployed with, read from the merged template."""
from __future__ import annotations

import pytest

from chalicelib import delivery, send_run, settings, wiring
from infra import merge

RATES = (1, 14, 50, 200)


def _send_function(resources: dict) -> dict:
    (send,) = [r for r in resources.values()
               if r.get("Properties", {}).get("FunctionName") == {"Fn::Sub": "${AWS::StackName}-send_newsletter"}]
    return send["Properties"]


def _deployed_settings(variables: dict) -> settings.Settings:
    """Settings as the deployed function parses them; CloudFormation references become plausible values."""
    env = {name: value if isinstance(value, str) else "https://peerpost.test" if "URL" in name else "x"
           for name, value in variables.items()}
    return settings.from_environ(env)


@pytest.fixture(scope="module")
def functions():
    return merge.app_functions()


@pytest.mark.parametrize("rate", RATES)
def test_the_senders_together_pace_to_the_ses_rate_that_they_are_deployed_for(functions, rate):
    send = _send_function(merge.merge_template(functions, rate)["Resources"])
    (event,) = send["Events"].values()
    senders = send["ReservedConcurrentExecutions"]
    assert event["Properties"]["ScalingConfig"]["MaximumConcurrency"] == senders
    deployed = _deployed_settings(send["Environment"]["Variables"])
    assert deployed.send_rate_per_second == rate
    assert deployed.send_concurrency == senders
    per_sender = deployed.send_rate_per_second / deployed.send_concurrency  # what delivery.Pacer allows each
    assert senders * per_sender <= rate * (1 + 1e-9)
    # And no fewer than needed: each sender can keep up with its share, one send after another.
    assert per_sender <= 1 / wiring.SECONDS_PER_SEND


@pytest.mark.parametrize("rate", RATES)
def test_a_send_invocation_finishes_its_batch_within_the_function_timeout_at_every_rate(sam, functions, rate):
    """The batch is paced: BatchSize x 100 recipients at rate / concurrency each, plus the time kept in hand."""
    (event,) = _send_function(sam["Resources"])["Events"].values()
    batch_size = event["Properties"]["BatchSize"]
    assert batch_size == wiring.SEND_BATCH_SIZE
    send = _send_function(merge.merge_template(functions, rate)["Resources"])
    seconds = batch_size * send_run.RECIPIENTS_PER_MESSAGE * send["ReservedConcurrentExecutions"] / rate
    assert seconds + delivery.STOP_WITH_MS_LEFT / 1000 <= send["Timeout"]


def test_the_delivery_lease_is_the_send_queues_visibility_and_outlasts_an_invocation(sam):
    queue = sam["Resources"]["SendQueue"]["Properties"]
    assert delivery.LEASE_SECONDS == queue["VisibilityTimeout"]
    assert _send_function(sam["Resources"])["Timeout"] <= queue["VisibilityTimeout"]


def test_a_recipient_is_given_up_with_a_reason_before_the_queue_dead_letters_the_message(sam):
    redrive = sam["Resources"]["SendQueue"]["Properties"]["RedrivePolicy"]
    assert delivery.GIVE_UP_AFTER_RECEIVES < redrive["maxReceiveCount"]


def _emitted_metrics() -> set[str]:
    """Every Metric some count() call in chalicelib/ names (read from the source: no run can miss a branch)."""
    import ast

    emitted = set()
    for path in (merge.ROOT / "chalicelib").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "Metric":
                emitted.add(wiring.Metric[node.attr].value)
    return emitted


def test_every_alarm_on_peerposts_own_metrics_watches_one_that_chalicelib_emits(sam):
    alarms = {name: r["Properties"] for name, r in sam["Resources"].items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    own = {name: a for name, a in alarms.items() if a["Namespace"] == wiring.METRIC_NAMESPACE}
    assert "SendFailuresAlarm" in own
    emitted = _emitted_metrics()
    for name, alarm in own.items():
        assert alarm["MetricName"] in emitted, f"{name} watches {alarm['MetricName']}, which nothing emits"
        assert alarm["Dimensions"] == [{"Name": "service", "Value": wiring.SERVICE}], name


def test_every_metric_name_is_emitted_somewhere_and_count_takes_no_free_string():
    from chalicelib import observability

    assert _emitted_metrics() == {m.value for m in wiring.Metric}
    with pytest.raises(ValueError):
        observability.count("SendFailures")


def test_every_deployed_variable_fills_a_settings_field_and_every_required_field_is_deployed(sam):
    import dataclasses

    fields = {f.name for f in dataclasses.fields(settings.Settings)}
    by_name = {v.name: v for v in wiring.VARIABLES}
    required = {v.name for v in wiring.VARIABLES if v.deployed}
    functions = [r["Properties"] for r in sam["Resources"].values() if r["Type"] == "AWS::Serverless::Function"]
    assert len(functions) == len(merge.app_functions())
    for function in functions:
        variables = function["Environment"]["Variables"]
        for name in set(variables) - wiring.LIBRARY_VARIABLES:
            assert name in by_name and by_name[name].field in fields, f"{name} is no Settings field's variable"
        assert required <= set(variables), f"not deployed: {sorted(required - set(variables))}"
        _deployed_settings(variables)  # and what is deployed parses


def test_the_app_the_local_stack_and_the_template_use_the_same_names(sam):
    from app import app
    from chalice.app import SNSEventConfig, SQSEventConfig

    sources = {c.name: c for c in app.event_sources if isinstance(c, (SQSEventConfig, SNSEventConfig))}
    assert {n: getattr(c, "queue", None) or c.topic for n, c in sources.items()} == {
        "ses_events": wiring.SES_EVENTS_TOPIC, "process_signups": wiring.SIGNUP_QUEUE,
        "dispatch_issue": wiring.DISPATCH_QUEUE, "send_newsletter": wiring.SEND_QUEUE,
        "import_subscribers": wiring.IMPORT_QUEUE}
    for logical_id in wiring.RESOURCES:
        assert logical_id in sam["Resources"], logical_id
