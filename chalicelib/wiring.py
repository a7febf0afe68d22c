"""The names app.py, localdev/ and infra/ share: resources, queues, topics, environment variables, metrics.

Nothing here imports boto3 or Chalice: app.py reads these at import time, and so do infra/merge.py
and localdev/stack.py.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

# Logical id in infra/resources.yaml -> the name local mode (and Chalice's decorators) use.
# In AWS, CloudFormation names them; the functions learn those names from their environment.
TABLE = "peerpost"
DISPATCH_QUEUE = "peerpost-dispatch"
SEND_QUEUE = "peerpost-send"
SIGNUP_QUEUE = "peerpost-signups"
IMPORT_QUEUE = "peerpost-imports"
SES_EVENTS_TOPIC = "peerpost-ses-events"
ALARM_TOPIC = "peerpost-alarms"
MEDIA_BUCKET = "peerpost-media"

RESOURCES = {
    "PeerPostTable": TABLE,
    "DispatchQueue": DISPATCH_QUEUE,
    "DispatchDeadLetterQueue": f"{DISPATCH_QUEUE}-dlq",
    "SendQueue": SEND_QUEUE,
    "SendDeadLetterQueue": f"{SEND_QUEUE}-dlq",
    "SignupQueue": SIGNUP_QUEUE,
    "SignupDeadLetterQueue": f"{SIGNUP_QUEUE}-dlq",
    "ImportQueue": IMPORT_QUEUE,
    "ImportDeadLetterQueue": f"{IMPORT_QUEUE}-dlq",
    "SesEventsTopic": SES_EVENTS_TOPIC,
    "AlarmTopic": ALARM_TOPIC,
    "MediaBucket": MEDIA_BUCKET,
}
LOGICAL_IDS = {name: logical_id for logical_id, name in RESOURCES.items()}

# The send function takes one queue message (100 recipients) per invocation: at a paced
# rate / concurrency per sender, ten messages would outlast the function's timeout, and a
# small audience would sit on a few senders while the rest idle.
SEND_BATCH_SIZE = 1
# One sender sends sequentially (claim, SES call): a copy takes it 0.1-0.15 s, and each sender is given
# this long per copy, so that slow calls leave it time to keep to its share (at 0.15 s, 50/s reached
# 0.89 of the quota in bench/run_send.py; a slow call's lost time is lost to the whole send).
SECONDS_PER_SEND = 0.2
MIN_SQS_CONCURRENCY = 2  # the least MaximumConcurrency an SQS event source takes


def send_concurrency(ses_send_rate: float) -> int:
    """Senders that can really run at once for an SES maximum send rate: enough to reach the rate, no more.

    The one number behind the send function's ReservedConcurrentExecutions, its event source's
    MaximumConcurrency and PEERPOST_SEND_CONCURRENCY, by which each sender divides the rate."""
    return max(MIN_SQS_CONCURRENCY, math.ceil(ses_send_rate * SECONDS_PER_SEND))


@dataclass(frozen=True)
class Variable:
    """One environment variable: the Settings field it fills, and whether a deployment must set it."""

    name: str
    field: str
    deployed: bool = False


# Every PEERPOST_ variable Settings reads. `deployed=True`: infra/merge.py must set it on every function
# (tests/infra/test_contracts.py checks both directions against the merged template).
VARIABLES = (
    Variable("PEERPOST_STAGE", "stage", deployed=True),
    Variable("PEERPOST_TABLE", "table_name", deployed=True),
    Variable("PEERPOST_DISPATCH_QUEUE", "dispatch_queue", deployed=True),
    Variable("PEERPOST_SEND_QUEUE", "send_queue", deployed=True),
    Variable("PEERPOST_SIGNUP_QUEUE", "signup_queue", deployed=True),
    Variable("PEERPOST_IMPORT_QUEUE", "import_queue", deployed=True),
    Variable("PEERPOST_PUBLIC_BASE_URL", "public_base_url", deployed=True),
    Variable("PEERPOST_MEDIA_BUCKET", "media_bucket", deployed=True),
    Variable("PEERPOST_MEDIA_BASE_URL", "media_base_url", deployed=True),
    Variable("PEERPOST_ORG_NAME", "organisation_name", deployed=True),
    Variable("PEERPOST_ORG_ADDRESS", "organisation_address", deployed=True),
    Variable("PEERPOST_NEWSLETTER_FROM", "newsletter_from", deployed=True),
    Variable("PEERPOST_TRANSACTIONAL_FROM", "transactional_from", deployed=True),
    Variable("PEERPOST_REPLY_TO", "reply_to", deployed=True),
    Variable("PEERPOST_LIST_ID", "list_id", deployed=True),
    Variable("PEERPOST_UNSUBSCRIBE_MAILTO", "unsubscribe_mailto", deployed=True),
    Variable("PEERPOST_SES_CONFIGURATION_SET", "ses_configuration_set", deployed=True),
    Variable("PEERPOST_CRISIS_LINE", "crisis_signposting"),
    Variable("PEERPOST_SIGNING_SECRET", "signing_secret"),  # local mode and tests only
    Variable("PEERPOST_SIGNING_SECRET_PARAMETER", "signing_secret_parameter", deployed=True),
    Variable("PEERPOST_PENDING_EXPIRY_HOURS", "pending_expiry_hours"),
    Variable("PEERPOST_SESSION_HOURS", "session_hours"),
    Variable("PEERPOST_SEND_RATE_PER_SECOND", "send_rate_per_second", deployed=True),
    Variable("PEERPOST_SEND_CONCURRENCY", "send_concurrency", deployed=True),
    Variable("PEERPOST_SEND_IN_FLIGHT", "send_in_flight"),
    Variable("PEERPOST_SES_MAX_ATTEMPTS", "ses_max_attempts"),
    Variable("PEERPOST_RATE_LIMIT_PER_ADDRESS", "rate_limit_per_address_per_hour"),
    Variable("PEERPOST_RATE_LIMIT_PER_CLIENT", "rate_limit_per_client_per_hour"),
    Variable("PEERPOST_SAFEGUARDING_EMAIL", "safeguarding_email", deployed=True),
    Variable("PEERPOST_SAFEGUARDING_PHRASES", "safeguarding_phrases"),
    Variable("PEERPOST_OFFER_WINDOW_HOURS", "offer_window_hours"),
    Variable("PEERPOST_REMINDER_HOURS_BEFORE", "reminder_hours_before"),
    Variable("PEERPOST_ATTENDEE_RETENTION_DAYS", "attendee_retention_days"),
    Variable("PEERPOST_EVENT_REGISTRATIONS_PER_CLIENT", "event_registrations_per_client_per_hour"),
    Variable("PEERPOST_STORY_RETENTION_FLAG_DAYS", "story_retention_flag_days"),
    Variable("PEERPOST_STORY_RETENTION_ERASE_DAYS", "story_retention_erase_days"),
    Variable("PEERPOST_MAX_STORY_CHARS", "max_story_chars"),
    Variable("PEERPOST_STORY_RATE_LIMIT_PER_CLIENT", "story_rate_limit_per_client_per_hour"),
    Variable("PEERPOST_AUDIT_RETENTION_DAYS", "audit_retention_days"),
)
ENV = {v.field: v.name for v in VARIABLES}

# Read by libraries (powertools) or set by the Lambda runtime, not by Settings.
LIBRARY_VARIABLES = frozenset({"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_TRACE_DISABLED"})
# Settings fields no variable of their own fills: the runtime's region, and a flag derived from the URL.
DERIVED_FIELDS = frozenset({"region", "secure_cookies"})


# Metric names (namespace METRIC_NAMESPACE, dimension service=SERVICE): observability.count() takes only
# these, and infra/ alarms only on these (tests/infra/test_contracts.py: every alarm's metric is emitted).
METRIC_NAMESPACE = "PeerPost"
SERVICE = "peerpost"


class Metric(StrEnum):
    SIGN_UPS = "SignUps"
    CONFIRMATIONS = "Confirmations"
    UNSUBSCRIBES = "Unsubscribes"
    BOUNCES = "Bounces"
    COMPLAINTS = "Complaints"
    STORIES_SUBMITTED = "StoriesSubmitted"
    STORIES_SAFEGUARDING_FLAGGED = "StoriesSafeguardingFlagged"
    STORY_CONSENT_CHANGED = "StoryConsentChanged"
    STORY_VERSIONS_APPROVED = "StoryVersionsApproved"
    STORY_EDITS_DECLINED = "StoryEditsDeclined"
    STORY_VERSIONS_EDITED = "StoryVersionsEdited"
    STORIES_WITHDRAWN = "StoriesWithdrawn"
    STORIES_IN_REVIEW = "StoriesInReview"
    STORIES_APPROVED = "StoriesApproved"
    STORIES_PUBLISHED = "StoriesPublished"
    STORIES_REJECTED = "StoriesRejected"
    STORIES_RETENTION_FLAGGED = "StoriesRetentionFlagged"
    STORIES_RETENTION_ERASED = "StoriesRetentionErased"
    STORY_READS_UNPROCESSED = "StoryReadsUnprocessed"
    ISSUE_SENDS_STARTED = "IssueSendsStarted"
    ISSUE_SENDS_COMPLETED = "IssueSendsCompleted"
    NEWSLETTER_SENT = "NewsletterSent"
    NEWSLETTER_FAILED = "NewsletterFailed"
    NEWSLETTER_SUPPRESSED = "NewsletterSuppressed"
    DELIVERY_CLAIM_CONFLICTS = "DeliveryClaimConflicts"
    SUBSCRIBER_READS_UNPROCESSED = "SubscriberReadsUnprocessed"
    EVENTS_CREATED = "EventsCreated"
    EVENTS_CANCELLED = "EventsCancelled"
    EVENT_REGISTRATION_REQUESTS = "EventRegistrationRequests"
    EVENT_REGISTRATIONS = "EventRegistrations"
    EVENT_WAITING_LIST_JOINS = "EventWaitingListJoins"
    EVENT_WAITING_LIST_LEAVES = "EventWaitingListLeaves"
    EVENT_CANCELLATIONS = "EventCancellations"
    EVENT_OFFERS = "EventOffers"
    EVENT_OFFERS_ACCEPTED = "EventOffersAccepted"
    EVENT_OFFERS_DECLINED = "EventOffersDeclined"
    EVENT_OFFERS_EXPIRED = "EventOffersExpired"
    EVENT_REMINDERS = "EventReminders"
