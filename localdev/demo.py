"""Demo content for local mode, from ../shared/seeds/: a coordinator, subscribers, and each capability's seed."""
from __future__ import annotations

import os

from chalicelib import auth, aws, clock, keys, roles, subscriptions

DEFAULT_COORDINATOR_EMAIL = "coordinator@peerpost.example.org"
# Local demo only (printed at start); deployed coordinators are created with their own password.
DEFAULT_COORDINATOR_PASSWORD = "peerpost-demo-2026"  # nosec B105
# The demo coordinator holds every role, and admins need a second factor: this is her authenticator's
# key (base32), printed at start; `make code` prints the code it shows now. Local demo only.
DEFAULT_COORDINATOR_TOTP = "PEERPOSTDEMOKEYPEERPOSTDEMOKEY23"  # nosec B105
DEMO_SUBSCRIBERS = [
    ("amira@example.org", "Amira", ["newsletter", "events"]),
    ("ben@example.org", "Ben", ["newsletter"]),
    ("chloe@example.org", "Chloe", ["events"]),
]


def coordinator_credentials() -> tuple[str, str]:
    return (os.environ.get("PEERPOST_DEMO_COORDINATOR_EMAIL", DEFAULT_COORDINATOR_EMAIL),
            os.environ.get("PEERPOST_DEMO_COORDINATOR_PASSWORD", DEFAULT_COORDINATOR_PASSWORD))


def coordinator_totp() -> str:
    return os.environ.get("PEERPOST_DEMO_COORDINATOR_TOTP", DEFAULT_COORDINATOR_TOTP)


def seed_coordinator() -> None:
    email, password = coordinator_credentials()
    auth.create_coordinator(email, password, name="Zoe (demo coordinator)", granted=roles.ALL,
                            totp_secret=coordinator_totp())


def seed_subscribers() -> None:
    """Confirmed demo subscribers, written directly: demos need an audience without a mailbox."""
    now = clock.iso()
    for email, name, topics in DEMO_SUBSCRIBERS:
        sid = subscriptions.email_id(email)
        consent = {"wording_version": subscriptions.CONSENT_VERSION, "method": "demo", "given_at": now,
                   "confirmed_at": now, "withdrawn_at": None}
        aws.table().put_item(Item={
            **keys.subscriber(sid), **keys.subscriber_index("confirmed", now, sid),
            **keys.subscriber_name_index(name, sid),
            "email": email, "first_name": name, "topics": topics, "status": "confirmed",
            "created_at": now, "confirmed_at": now, "consent": consent,
            "consent_history": [{"event": "given", **consent}], "soft_bounces": 0,
        })
    subscriptions.count_month("joined", len(DEMO_SUBSCRIBERS))  # they joined this month, on the overview


def seed() -> None:
    from localdev import demo_newsletter, demo_stories
    from localdev.demo_events import seed_events

    seed_coordinator()
    seed_subscribers()
    seed_events()
    demo_stories.seed_stories()
    demo_newsletter.seed()  # last: the demo issue draws in the shared stories and the events
