"""The first coordinator of a deployment, created from a workstation against the deployed stack."""
from __future__ import annotations

import io

import pytest

from localdev import stack
from tests.conftest import REGION

pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse:UserWarning")


@pytest.fixture
def deployed_stack(aws_mock, monkeypatch):
    import boto3
    from aws_lambda_powertools.utilities import parameters

    boto3.client("cloudformation", region_name=REGION).create_stack(
        StackName="peerpost-prod", TemplateBody=stack.INFRA.read_text(),
        Parameters=[{"ParameterKey": "Stage", "ParameterValue": "prod"}])
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name="/peerpost/prod/signing-secret", Value="from-ssm-not-the-environment", Type="SecureString")
    # admin.use_stack sets these for the process: monkeypatch restores them for the tests that follow.
    for name in ("PEERPOST_TABLE", "PEERPOST_SIGNING_SECRET_PARAMETER", "PEERPOST_STAGE"):
        monkeypatch.setenv(name, "")
    monkeypatch.setenv("PEERPOST_SIGNING_SECRET", "test-secret-not-for-production")
    yield "peerpost-prod"
    parameters.clear_caches()


def test_create_coordinator_writes_to_the_stacks_table_and_they_can_sign_in(deployed_stack, monkeypatch):
    from chalicelib import admin, auth, settings

    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    admin.main(["create-coordinator", "--stack", deployed_stack, "--email", "Robin@Example.org",
                "--name", "Robin", "--password-stdin"])
    assert settings.get_settings().signing_secret_parameter == "/peerpost/prod/signing-secret"
    assert settings.get_settings().table_name.startswith("peerpost-prod")
    outcome = auth.sign_in("robin@example.org", "a long enough password", client="workstation")
    # The first admin: her password is right, and she sets up her second factor before anything else.
    assert outcome.next == "setup" and auth.pending(outcome.token, "setup")["name"] == "Robin"
    assert auth.held_roles(auth.pending(outcome.token, "setup")) == {"admin"}


def test_a_short_password_creates_nothing(deployed_stack, monkeypatch):
    from chalicelib import admin, aws

    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    with pytest.raises(SystemExit, match="at least 12"):
        admin.main(["create-coordinator", "--stack", deployed_stack, "--email", "robin@example.org",
                    "--password-stdin"])
    assert aws.table().scan()["Count"] == 0
