"""SES bounce and complaint events arriving by SNS."""
from __future__ import annotations

import json

from tests.functional.test_subscriptions import confirmed


def sns(client, payload) -> None:
    event = client.events.generate_sns_event(message=payload if isinstance(payload, str) else json.dumps(payload))
    client.lambda_.invoke("ses_events", event)


def bounce(address: str, kind: str) -> dict:
    return {"eventType": "Bounce", "bounce": {"bounceType": kind, "bouncedRecipients": [{"emailAddress": address}]},
            "mail": {"destination": [address]}}


def test_hard_bounce_suppresses(client, outbox):
    from chalicelib import subscriptions

    confirmed(client, outbox)
    sns(client, bounce("sam@example.org", "Permanent"))
    sid = subscriptions.email_id("sam@example.org")
    assert subscriptions.is_suppressed(sid)
    assert not subscriptions.is_mailable(sid, "newsletter")


def test_complaint_suppresses_and_blocks_even_confirmation_mail(client, outbox):
    from chalicelib import subscriptions
    from tests.functional.test_subscriptions import subscribe

    confirmed(client, outbox)
    sns(client, {"eventType": "Complaint", "complaint": {"complainedRecipients": [{"emailAddress": "sam@example.org"}]}})
    assert subscriptions.is_suppressed(subscriptions.email_id("sam@example.org"))
    before = len(outbox.messages())
    subscribe(client)
    assert len(outbox.messages()) == before


def test_soft_bounce_is_counted_not_suppressed(client, outbox):
    from chalicelib import subscriptions

    confirmed(client, outbox)
    sns(client, bounce("sam@example.org", "Transient"))
    sid = subscriptions.email_id("sam@example.org")
    assert not subscriptions.is_suppressed(sid)
    assert subscriptions.export_csv().count("sam@example.org") == 1


def test_unknown_and_malformed_events_are_ignored(client, outbox, capsys):
    from chalicelib import aws

    sns(client, bounce("stranger@example.org", "Permanent"))
    sns(client, "{not json")
    sns(client, {"eventType": "Bounce", "bounce": {}})
    assert [i for i in aws.table().scan()["Items"] if i["PK"].startswith("SUPPRESS#")] == []
    assert "stranger@example.org" not in capsys.readouterr().out


def test_a_failure_applying_a_valid_event_propagates_for_a_retry(client, outbox, monkeypatch):
    """Issue 11 item 20: a DynamoDB error while applying a well-formed event is not "malformed"."""
    import pytest
    from botocore.exceptions import ClientError

    from chalicelib import ses_events, subscriptions

    confirmed(client, outbox)

    def outage(*args, **kwargs):
        raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "x"}}, "PutItem")

    monkeypatch.setattr(subscriptions, "suppress", outage)
    with pytest.raises(ClientError):
        ses_events.handle(json.dumps(bounce("sam@example.org", "Permanent")))
    monkeypatch.undo()
    assert ses_events.handle(json.dumps(bounce("sam@example.org", "Permanent"))) == "hard-bounce"
    assert subscriptions.is_suppressed(subscriptions.email_id("sam@example.org"))
    assert ses_events.handle("{not json") == "malformed"
