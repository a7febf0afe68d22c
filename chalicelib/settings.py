"""Typed settings, parsed once from the environment at the boundary."""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field


def _int(env: dict, name: str, default: int) -> int:
    raw = env.get(name)
    return default if raw in (None, "") else int(raw)


def _float(env: dict, name: str, default: float) -> float:
    raw = env.get(name)
    return default if raw in (None, "") else float(raw)


def _list(env: dict, name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    raw = env.get(name)
    if raw is None:
        return default
    return tuple(part.strip() for part in raw.split("|") if part.strip())


@dataclass(frozen=True)
class Settings:
    stage: str
    region: str
    table_name: str
    dispatch_queue: str
    send_queue: str
    signup_queue: str
    public_base_url: str
    organisation_name: str
    organisation_address: str
    newsletter_from: str
    transactional_from: str
    reply_to: str
    list_id: str
    unsubscribe_mailto: str
    ses_configuration_set: str
    crisis_signposting: str
    signing_secret: str = field(repr=False)
    signing_secret_parameter: str
    secure_cookies: bool
    pending_expiry_hours: int
    session_hours: int
    send_rate_per_second: float
    send_concurrency: int
    ses_max_attempts: int
    rate_limit_per_address_per_hour: int
    rate_limit_per_client_per_hour: int
    safeguarding_email: str
    safeguarding_phrases: tuple[str, ...]
    offer_window_hours: int
    reminder_hours_before: int
    attendee_retention_days: int
    event_registrations_per_client_per_hour: int
    story_retention_flag_days: int
    story_retention_erase_days: int
    max_story_chars: int
    story_rate_limit_per_client_per_hour: int = 10

    @property
    def is_local(self) -> bool:
        return self.stage == "local"


DEFAULT_SAFEGUARDING_PHRASES = (
    "kill myself",
    "end my life",
    "suicide",
    "suicidal",
    "self-harm",
    "self harm",
    "hurt myself",
    "want to die",
    "not safe",
    "overdose",
)


def from_environ(env: dict | None = None) -> Settings:
    env = dict(os.environ if env is None else env)
    base_url = env.get("PEERPOST_PUBLIC_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
    return Settings(
        stage=env.get("PEERPOST_STAGE", "local"),
        region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "eu-west-2",
        table_name=env.get("PEERPOST_TABLE", "peerpost"),
        dispatch_queue=env.get("PEERPOST_DISPATCH_QUEUE", "peerpost-dispatch"),
        send_queue=env.get("PEERPOST_SEND_QUEUE", "peerpost-send"),
        signup_queue=env.get("PEERPOST_SIGNUP_QUEUE", "peerpost-signups"),
        public_base_url=base_url,
        organisation_name=env.get("PEERPOST_ORG_NAME", "Side by Side Peer Support Network"),
        organisation_address=env.get(
            "PEERPOST_ORG_ADDRESS", "K&C Mind, 7 Thorpe Close, London W10 5XL"
        ),
        newsletter_from=env.get("PEERPOST_NEWSLETTER_FROM", "#PeerTalk <news@peerpost.example.org>"),
        transactional_from=env.get(
            "PEERPOST_TRANSACTIONAL_FROM", "PeerPost <hello@peerpost.example.org>"
        ),
        reply_to=env.get("PEERPOST_REPLY_TO", "coordinator@peerpost.example.org"),
        list_id=env.get("PEERPOST_LIST_ID", "PeerTalk newsletter <peertalk.peerpost.example.org>"),
        unsubscribe_mailto=env.get("PEERPOST_UNSUBSCRIBE_MAILTO", ""),
        ses_configuration_set=env.get("PEERPOST_SES_CONFIGURATION_SET", "peerpost"),
        crisis_signposting=env.get(
            "PEERPOST_CRISIS_LINE",
            "If you need support now, call Samaritans free on 116 123 (24 hours), "
            "or text SHOUT to 85258. In an emergency call 999.",
        ),
        signing_secret=env.get("PEERPOST_SIGNING_SECRET", ""),
        signing_secret_parameter=env.get("PEERPOST_SIGNING_SECRET_PARAMETER", ""),
        secure_cookies=base_url.startswith("https://"),
        pending_expiry_hours=_int(env, "PEERPOST_PENDING_EXPIRY_HOURS", 72),
        session_hours=_int(env, "PEERPOST_SESSION_HOURS", 8),
        send_rate_per_second=_float(env, "PEERPOST_SEND_RATE_PER_SECOND", 14.0),
        # The send queue's Lambda runs at most this many at once; each paces itself to rate / concurrency.
        send_concurrency=_int(env, "PEERPOST_SEND_CONCURRENCY", 2),
        ses_max_attempts=_int(env, "PEERPOST_SES_MAX_ATTEMPTS", 6),
        rate_limit_per_address_per_hour=_int(env, "PEERPOST_RATE_LIMIT_PER_ADDRESS", 5),
        rate_limit_per_client_per_hour=_int(env, "PEERPOST_RATE_LIMIT_PER_CLIENT", 60),
        safeguarding_email=env.get("PEERPOST_SAFEGUARDING_EMAIL", "safeguarding@peerpost.example.org"),
        safeguarding_phrases=_list(env, "PEERPOST_SAFEGUARDING_PHRASES", DEFAULT_SAFEGUARDING_PHRASES),
        offer_window_hours=_int(env, "PEERPOST_OFFER_WINDOW_HOURS", 48),
        reminder_hours_before=_int(env, "PEERPOST_REMINDER_HOURS_BEFORE", 24),
        attendee_retention_days=_int(env, "PEERPOST_ATTENDEE_RETENTION_DAYS", 30),
        event_registrations_per_client_per_hour=_int(env, "PEERPOST_EVENT_REGISTRATIONS_PER_CLIENT", 200),
        story_retention_flag_days=_int(env, "PEERPOST_STORY_RETENTION_FLAG_DAYS", 180),
        story_retention_erase_days=_int(env, "PEERPOST_STORY_RETENTION_ERASE_DAYS", 30),
        max_story_chars=_int(env, "PEERPOST_MAX_STORY_CHARS", 20000),
        story_rate_limit_per_client_per_hour=_int(env, "PEERPOST_STORY_RATE_LIMIT_PER_CLIENT", 10),
    )


@functools.cache
def get_settings() -> Settings:
    return from_environ()


def reset() -> None:
    """Forget the cached settings (tests change the environment)."""
    get_settings.cache_clear()
