"""SES bounce and complaint events (via SNS): suppress hard bounces and complaints, count soft bounces."""
from __future__ import annotations

import json
from dataclasses import dataclass

from chalicelib import subscriptions
from chalicelib.observability import count, logger
from chalicelib.wiring import Metric


@dataclass(frozen=True)
class SesEvent:
    kind: str  # "hard-bounce", "soft-bounce", "complaint" or "ignored"
    recipients: tuple[str, ...]
    issue_id: str = ""  # the newsletter send it came from (its SES "issue" tag), if any


def parse(message: str) -> SesEvent:
    """Read one SNS message body; ValueError, KeyError, TypeError or AttributeError if it is malformed."""
    event = json.loads(message)
    kind = event.get("eventType") or event.get("notificationType")
    if kind == "Bounce":
        bounce = event["bounce"]
        recipients = bounce["bouncedRecipients"]
        kind = "hard-bounce" if bounce.get("bounceType") == "Permanent" else "soft-bounce"
    elif kind == "Complaint":
        recipients = event["complaint"]["complainedRecipients"]
        kind = "complaint"
    else:
        return SesEvent("ignored", ())
    addresses = tuple(r["emailAddress"] for r in recipients)
    if not all(isinstance(a, str) for a in addresses):
        raise TypeError("a recipient address is not a string")
    tagged = ((event.get("mail") or {}).get("tags") or {}).get("issue") or [""]
    issue_id = tagged[0] if isinstance(tagged, list) and isinstance(tagged[0], str) else ""
    return SesEvent(kind, addresses, issue_id[:80])


def handle(message: str) -> str:
    """Apply one SNS message body; returns what was done. Malformed input is logged and dropped; a
    failure applying a well-formed event propagates, so SNS and Lambda retry it."""
    try:
        event = parse(message)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        # Only the error's type: the message may hold addresses.
        logger().warning("malformed SES event ignored", extra={"error": type(exc).__name__})
        return "malformed"
    if event.kind in ("hard-bounce", "soft-bounce"):
        count(Metric.BOUNCES, len(event.recipients))
    elif event.kind == "complaint":
        count(Metric.COMPLAINTS, len(event.recipients))
    if event.issue_id and event.kind != "soft-bounce":
        from chalicelib import send_run

        send_run.count_on(event.issue_id, "bounced" if event.kind == "hard-bounce" else "complaints",
                          len(event.recipients))
    for address in event.recipients:
        if event.kind == "soft-bounce":
            subscriptions.record_soft_bounce(address)
        else:
            subscriptions.suppress(address, "bounce" if event.kind == "hard-bounce" else "complaint")
    return event.kind
