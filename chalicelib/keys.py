"""DynamoDB key layout: the only module that builds PK/SK/GSI key strings.

One table (infra/resources.yaml, PeerPostTable) with two generic GSIs. Every item kind
has its key functions here, so a newcomer can read the whole layout in one place.
"""
from __future__ import annotations

PROFILE = "PROFILE"
META = "META"

# Subscribers: id is a keyed hash of the normalised address (signing_secret.keyed_hash).
def subscriber(sid: str) -> dict:
    return {"PK": f"SUB#{sid}", "SK": PROFILE}


def subscriber_id(item: dict) -> str:
    """The subscriber id inside a subscriber item's key (the inverse of subscriber())."""
    return item["PK"].removeprefix("SUB#")


def subscribers_by_status(status: str) -> str:
    return f"SUBSCRIBERS#{status}"


def subscriber_index(status: str, created_at: str, sid: str) -> dict:
    return {"GSI1PK": subscribers_by_status(status), "GSI1SK": f"{created_at}#{sid}"}


def subscribers_by_name() -> str:
    return "SUBSCRIBER-NAMES"


def subscriber_name_index(first_name: str, sid: str) -> dict:
    """GSI2 entry of a subscriber with a name: the coordinator's "start of name" search is one
    begins_with query on the casefolded name. Addresses have no index of their own, so nobody can list
    them by pattern; a whole address is found by its hash (subscriber())."""
    return {"GSI2PK": subscribers_by_name(), "GSI2SK": f"{name_key(first_name)}#{sid}"}


def name_key(first_name: str) -> str:
    return " ".join(first_name.casefold().split())


# Tags: the small set coordinators manage is one item (a map of tag id -> name); a person's tags are
# a string set of ids, `tags`, on their subscriber item, so a list filtered by tag is a FilterExpression
# on GSI1 pages and renaming a tag is one write.
def tags() -> dict:
    return {"PK": "TAGS", "SK": META}


# Suppression: what remains of an address after erasure, a hard bounce or a complaint.
def suppression(email_id: str) -> dict:
    return {"PK": f"SUPPRESS#{email_id}", "SK": "SUPPRESS"}


def suppressions_index() -> str:
    return "SUPPRESSIONS"


def suppression_index(at: str, email_id: str) -> dict:
    """GSI1 entry of a suppression: the coordinator's suppression page, newest first."""
    return {"GSI1PK": suppressions_index(), "GSI1SK": f"{at}#{email_id}"}


def suppressed_id(item: dict) -> str:
    return item["PK"].removeprefix("SUPPRESS#")


# The overview's counters: people who joined and left in a month (London time), one item a month.
def month_stats(month: str) -> dict:
    return {"PK": "STATS", "SK": f"MONTH#{month}"}


def stats_month(item: dict) -> str:
    """The month (YYYY-MM) a counters item is for (the inverse of month_stats())."""
    return item["SK"].removeprefix("MONTH#")


# Fixed-window rate-limit counters (TTL'd).
def rate_counter(scope: str, subject: str, window: int) -> dict:
    return {"PK": f"RATE#{scope}#{subject}#{window}", "SK": "RATE"}


# Coordinators and their sessions.
def coordinator(email_id: str) -> dict:
    return {"PK": f"COORD#{email_id}", "SK": PROFILE}


def coordinator_index() -> dict:
    return {"GSI1PK": "COORDINATORS", "GSI1SK": "COORDINATOR"}


def session(session_id: str) -> dict:
    return {"PK": f"SESSION#{session_id}", "SK": "SESSION"}


def session_id(item: dict) -> str:
    return item["PK"].removeprefix("SESSION#")


def sessions_of(coordinator_id: str) -> str:
    """GSI1 partition of one coordinator's sessions (their account page; signing out everywhere)."""
    return f"SESSIONS#{coordinator_id}"


def session_index(coordinator_id: str, created_at: str, session_id: str) -> dict:
    return {"GSI1PK": sessions_of(coordinator_id), "GSI1SK": f"{created_at}#{session_id}"}


def coordinator_id(item: dict) -> str:
    return item["PK"].removeprefix("COORD#")


def invitation(invitation_id: str) -> dict:
    return {"PK": f"INVITE#{invitation_id}", "SK": META}


def invitations_index() -> str:
    return "INVITATIONS"


def invitation_index(at: str, invitation_id: str) -> dict:
    return {"GSI1PK": invitations_index(), "GSI1SK": f"{at}#{invitation_id}"}


def invitation_id(item: dict) -> str:
    return item["PK"].removeprefix("INVITE#")


# The audit trail: append-only, one partition a month, newest last by time.
AUDIT_PREFIX = "AUDIT#"


def audit_month(month: str) -> str:
    return f"{AUDIT_PREFIX}{month}"


def audit_entry(month: str, at: str, entry_id: str) -> dict:
    return {"PK": audit_month(month), "SK": f"{at}#{entry_id}"}


# Stories: a META item, immutable versions, and an append-only consent ledger.
def story(story_id: str) -> dict:
    return {"PK": f"STORY#{story_id}", "SK": META}


def story_partition(story_id: str) -> str:
    return f"STORY#{story_id}"


def story_version(story_id: str, number: int) -> dict:
    return {"PK": f"STORY#{story_id}", "SK": f"VERSION#{number:05d}"}


def story_consent_entry(story_id: str, at: str, seq: int) -> dict:
    return {"PK": f"STORY#{story_id}", "SK": f"CONSENT#{at}#{seq:05d}"}


def stories_by_status(status: str) -> str:
    return f"STORIES#{status}"


def story_index(status: str, created_at: str, story_id: str) -> dict:
    return {"GSI1PK": stories_by_status(status), "GSI1SK": f"{created_at}#{story_id}"}


# Events, their registrations and waiting list.
def event(event_id: str) -> dict:
    return {"PK": f"EVENT#{event_id}", "SK": META}


def event_partition(event_id: str) -> str:
    return f"EVENT#{event_id}"


def registration(event_id: str, registration_id: str) -> dict:
    return {"PK": f"EVENT#{event_id}", "SK": f"REG#{registration_id}"}


def events_index() -> str:
    return "EVENTS"


def event_index(starts_at: str, event_id: str) -> dict:
    # Dated events sort by their UTC start; "TBC" sorts after every ISO date, so undated come last.
    return {"GSI1PK": events_index(), "GSI1SK": f"{starts_at or 'TBC'}#{event_id}"}


def registration_prefix() -> str:
    return "REG#"


def event_queue(event_id: str) -> str:
    return f"QUEUE#{event_id}"


def queue_index(event_id: str, arrival: int) -> dict:
    # Present only while a registration is waiting: the queue is this GSI2 partition in arrival order.
    return {"GSI2PK": event_queue(event_id), "GSI2SK": f"{arrival:012d}"}


def offers_index() -> str:
    return "EVENT-OFFERS"


def offer_index(expires_at: str, event_id: str, registration_id: str) -> dict:
    # Present only while an offer is open, so the expiry sweep reads just the offers that are due.
    return {"GSI2PK": offers_index(), "GSI2SK": f"{expires_at}#{event_id}#{registration_id}"}


# Bounds on the events' GSI1SK (see event_index), for reading the events by start time.
def events_starting_from(at: str) -> str:
    """An event starting at or after `at` sorts at or above this; undated ones too ("TBC" sorts after dates)."""
    return at


def events_starting_until(at: str) -> str:
    """An event starting at or before `at` sorts at or below this: "~" sorts after "#<event id>"."""
    return f"{at}~"


def undated_events() -> str:
    """The undated ("TBC") events sort at or above this, after every dated one."""
    return "TBC#"


# Newsletter issues and their per-recipient delivery records.
def issue(issue_id: str) -> dict:
    return {"PK": f"ISSUE#{issue_id}", "SK": META}


def issue_slug(slug: str) -> dict:
    """The readable archive address of a sent issue, pointing at its id."""
    return {"PK": f"ISSUESLUG#{slug}", "SK": META}


def issue_partition(issue_id: str) -> str:
    return f"ISSUE#{issue_id}"


def delivery(issue_id: str, recipient_id: str) -> dict:
    return {"PK": f"ISSUE#{issue_id}", "SK": f"DELIVERY#{recipient_id}"}


def issues_index() -> str:
    return "ISSUES"


def issue_index(date: str, issue_id: str) -> dict:
    return {"GSI1PK": issues_index(), "GSI1SK": f"{date}#{issue_id}"}


def issue_rendered(issue_id: str) -> dict:
    """The issue as rendered once at dispatch: what every recipient's copy is made from."""
    return {"PK": f"ISSUE#{issue_id}", "SK": "RENDERED"}


def issues_scheduled() -> str:
    return "ISSUES#scheduled"


def issues_undispatched() -> str:
    """Issues marked sending whose audience is not yet all queued (GSI2, sorted by start time)."""
    return "ISSUES#undispatched"


def issue_schedule_index(send_at: str, issue_id: str) -> dict:
    return {"GSI2PK": issues_scheduled(), "GSI2SK": f"{send_at}#{issue_id}"}


def issue_undispatched_index(started_at: str, issue_id: str) -> dict:
    """GSI2 entry of an issue whose dispatch has not queued everyone yet (removed when it has)."""
    return {"GSI2PK": issues_undispatched(), "GSI2SK": f"{started_at}#{issue_id}"}


def issue_index_through(at: str) -> str:
    """The GSI2SK bound that takes in every scheduled or undispatched issue entry at or before `at`."""
    return f"{at}#~"


def issue_failures(issue_id: str) -> str:
    return f"ISSUE#{issue_id}#FAILED"


def delivery_failure_index(issue_id: str, at: str, recipient_id: str) -> dict:
    return {"GSI2PK": issue_failures(issue_id), "GSI2SK": f"{at}#{recipient_id}"}


# One-off sends (purpose, recipient): e.g. a reminder, an offer; makes any send idempotent.
def send_claim(purpose: str, recipient_id: str) -> dict:
    return {"PK": f"SENT#{purpose}", "SK": f"TO#{recipient_id}"}


# Imports: one item per uploaded CSV (its choices, state and counts; the file itself is in S3).
def import_job(job_id: str) -> dict:
    return {"PK": f"IMPORT#{job_id}", "SK": META}
