"""In AWS the signing secret comes from SSM Parameter Store through powertools parameters."""
from __future__ import annotations


def test_signing_secret_from_ssm(aws_mock, monkeypatch):
    import boto3
    from aws_lambda_powertools.utilities import parameters

    from chalicelib import settings, signing_secret, tokens

    boto3.client("ssm", region_name="eu-west-2").put_parameter(
        Name="/peerpost/test/signing-secret", Value="from-ssm-secret", Type="SecureString")
    monkeypatch.setenv("PEERPOST_SIGNING_SECRET", "")
    monkeypatch.setenv("PEERPOST_SIGNING_SECRET_PARAMETER", "/peerpost/test/signing-secret")
    settings.reset()
    parameters.clear_caches()
    try:
        assert signing_secret.signing_secret() == "from-ssm-secret"
        assert tokens.verify("unsubscribe", tokens.sign("unsubscribe", "x")) == "x"
    finally:
        parameters.clear_caches()
