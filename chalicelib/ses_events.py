"""SES bounce and complaint events (via SNS): suppress hard bounces and complaints, count soft bounces."""
from __future__ import annotations

import json

from chalicelib import subscriptions
from chalicelib.observability import count, logger


def handle(message: str) -> str:
    """Apply one SNS message body; returns what was done. Malformed input is logged, never retried."""
    try:
        event = json.loads(message)
        kind = event.get("eventType") or event.get("notificationType")
        if kind == "Bounce":
            bounce = event["bounce"]
            recipients = [r["emailAddress"] for r in bounce["bouncedRecipients"]]
            permanent = bounce.get("bounceType") == "Permanent"
            count("Bounces", len(recipients))
            for address in recipients:
                if permanent:
                    subscriptions.suppress(address, "bounce")
                else:
                    subscriptions.record_soft_bounce(address)
            return "hard-bounce" if permanent else "soft-bounce"
        if kind == "Complaint":
            recipients = [r["emailAddress"] for r in event["complaint"]["complainedRecipients"]]
            count("Complaints", len(recipients))
            for address in recipients:
                subscriptions.suppress(address, "complaint")
            return "complaint"
        return "ignored"
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        # Only the error's type: the message may hold addresses.
        logger().warning("malformed SES event ignored", extra={"error": type(exc).__name__})
        return "malformed"
