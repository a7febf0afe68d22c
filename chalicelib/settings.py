"""Typed settings, parsed once from the environment at the boundary."""
from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass, field

from chalicelib import wiring
from chalicelib.wiring import ENV


class SettingsError(ValueError):
    """The environment holds a value PeerPost cannot run with; raised at start, naming the variable."""


def _int(env: dict, name: str, default: int) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, not {raw!r}") from None


def _float(env: dict, name: str, default: float) -> float:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, not {raw!r}") from None


def _list(env: dict, name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    raw = env.get(name)
    if raw is None:
        return default
    return tuple(part.strip() for part in raw.split("|") if part.strip())


# Lower bounds of the numeric settings: below them a value makes no sense (a send rate of 0 would be a
# ZeroDivisionError in the pacer mid-send; a concurrency of 0 a sender that never sends).
_AT_LEAST = {
    "pending_expiry_hours": 1, "session_hours": 1, "send_concurrency": 1, "send_in_flight": 1, "ses_max_attempts": 1,
    "rate_limit_per_address_per_hour": 1, "rate_limit_per_client_per_hour": 1, "offer_window_hours": 1,
    "reminder_hours_before": 0, "attendee_retention_days": 0, "event_registrations_per_client_per_hour": 1,
    "story_retention_flag_days": 1, "story_retention_erase_days": 0, "max_story_chars": 1,
    "story_rate_limit_per_client_per_hour": 1, "audit_retention_days": 1,
}


@dataclass(frozen=True)
class Settings:
    stage: str
    region: str
    table_name: str
    dispatch_queue: str
    send_queue: str
    signup_queue: str
    import_queue: str
    public_base_url: str
    media_bucket: str
    media_base_url: str
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
    send_in_flight: int
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
    audit_retention_days: int = 2192  # six years, then DynamoDB's TTL removes an entry

    def __post_init__(self) -> None:
        problems = []
        rate = self.send_rate_per_second
        if not (math.isfinite(rate) and rate > 0):
            problems.append(f"{ENV['send_rate_per_second']} must be above 0 (the SES maximum send rate), not {rate:g}")
        for name, least in _AT_LEAST.items():
            value = getattr(self, name)
            if value < least:
                problems.append(f"{ENV[name]} must be at least {least}, not {value}")
        for name in ("table_name", "dispatch_queue", "send_queue", "signup_queue", "import_queue", "media_bucket"):
            if not getattr(self, name):
                problems.append(f"{ENV[name]} must not be empty")
        for name in ("public_base_url", "media_base_url"):
            if not getattr(self, name).startswith(("https://", "http://")):
                problems.append(f"{ENV[name]} must be an http(s) URL")
        if problems:
            raise SettingsError("PeerPost cannot start with these settings: " + "; ".join(problems))

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
    base_url = env.get(ENV["public_base_url"], "http://127.0.0.1:8000").rstrip("/")
    rate = _float(env, ENV["send_rate_per_second"], 14.0)
    # Unset, it is what infra/ deploys for this rate (a nonsense rate is refused by Settings itself).
    default_concurrency = wiring.send_concurrency(rate) if math.isfinite(rate) and rate > 0 else 1
    return Settings(
        stage=env.get(ENV["stage"], "local"),
        region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "eu-west-2",
        table_name=env.get(ENV["table_name"], wiring.TABLE),
        dispatch_queue=env.get(ENV["dispatch_queue"], wiring.DISPATCH_QUEUE),
        send_queue=env.get(ENV["send_queue"], wiring.SEND_QUEUE),
        signup_queue=env.get(ENV["signup_queue"], wiring.SIGNUP_QUEUE),
        import_queue=env.get(ENV["import_queue"], wiring.IMPORT_QUEUE),
        public_base_url=base_url,
        media_bucket=env.get(ENV["media_bucket"], wiring.MEDIA_BUCKET),
        # Deployed: the CloudFront distribution in front of the bucket. Locally, localdev serves /media.
        media_base_url=env.get(ENV["media_base_url"], f"{base_url}/media").rstrip("/"),
        organisation_name=env.get(ENV["organisation_name"], "Side by Side Peer Support Network"),
        organisation_address=env.get(
            ENV["organisation_address"], "K&C Mind, 7 Thorpe Close, London W10 5XL"
        ),
        newsletter_from=env.get(ENV["newsletter_from"], "#PeerTalk <news@peerpost.example.org>"),
        transactional_from=env.get(
            ENV["transactional_from"], "PeerPost <hello@peerpost.example.org>"
        ),
        reply_to=env.get(ENV["reply_to"], "coordinator@peerpost.example.org"),
        list_id=env.get(ENV["list_id"], "PeerTalk newsletter <peertalk.peerpost.example.org>"),
        unsubscribe_mailto=env.get(ENV["unsubscribe_mailto"], ""),
        ses_configuration_set=env.get(ENV["ses_configuration_set"], "peerpost"),
        crisis_signposting=env.get(
            ENV["crisis_signposting"],
            "If you need support now, call Samaritans free on 116 123 (24 hours), "
            "or text SHOUT to 85258. In an emergency call 999.",
        ),
        signing_secret=env.get(ENV["signing_secret"], ""),
        signing_secret_parameter=env.get(ENV["signing_secret_parameter"], ""),
        secure_cookies=base_url.startswith("https://"),
        pending_expiry_hours=_int(env, ENV["pending_expiry_hours"], 72),
        session_hours=_int(env, ENV["session_hours"], 8),
        send_rate_per_second=rate,
        # The send queue's Lambda runs at most this many at once; each paces itself to rate / concurrency.
        send_concurrency=_int(env, ENV["send_concurrency"], default_concurrency),
        # Copies one sender may have at SES at once, when its share of the rate needs more than one (delivery.InFlight).
        send_in_flight=_int(env, ENV["send_in_flight"], 8),
        ses_max_attempts=_int(env, ENV["ses_max_attempts"], 6),
        rate_limit_per_address_per_hour=_int(env, ENV["rate_limit_per_address_per_hour"], 5),
        rate_limit_per_client_per_hour=_int(env, ENV["rate_limit_per_client_per_hour"], 60),
        safeguarding_email=env.get(ENV["safeguarding_email"], "safeguarding@peerpost.example.org"),
        safeguarding_phrases=_list(env, ENV["safeguarding_phrases"], DEFAULT_SAFEGUARDING_PHRASES),
        offer_window_hours=_int(env, ENV["offer_window_hours"], 48),
        reminder_hours_before=_int(env, ENV["reminder_hours_before"], 24),
        attendee_retention_days=_int(env, ENV["attendee_retention_days"], 30),
        event_registrations_per_client_per_hour=_int(env, ENV["event_registrations_per_client_per_hour"], 200),
        story_retention_flag_days=_int(env, ENV["story_retention_flag_days"], 180),
        story_retention_erase_days=_int(env, ENV["story_retention_erase_days"], 30),
        max_story_chars=_int(env, ENV["max_story_chars"], 20000),
        story_rate_limit_per_client_per_hour=_int(env, ENV["story_rate_limit_per_client_per_hour"], 10),
        audit_retention_days=_int(env, ENV["audit_retention_days"], 2192),
    )


@functools.cache
def get_settings() -> Settings:
    return from_environ()


def reset() -> None:
    """Forget the cached settings (tests change the environment)."""
    get_settings.cache_clear()
