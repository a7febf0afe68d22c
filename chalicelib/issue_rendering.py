"""An issue's stored rendering for its send (with the stories it shows), when to render it again, and previews and test sends."""
from __future__ import annotations

import functools
import json
import threading
import time
import uuid
import zlib
from dataclasses import dataclass
from typing import Callable

from chalicelib import audience as audiences, aws, clock, dynamo, issues, keys, links, mail, newsletter
from chalicelib.observability import logger
from chalicelib.settings import get_settings

CONSENT_RECHECK_SECONDS = 1.0


def store_rendered(issue: dict, replace: bool = False) -> None:
    """Render the issue once for this send; a retried dispatch keeps the first rendering.

    replace=True renders again over it: a story in it lost or narrowed its consent part-way through
    the send. The rendering keeps its marker key and a digest of exactly what each story shows.
    """
    rendered = newsletter.render(issue, channel="newsletter", personal=True)
    item = {**keys.issue_rendered(issue["issue_id"]), "subject": rendered.subject,
            "html_z": zlib.compress(rendered.html.encode()), "text_z": zlib.compress(rendered.text.encode()),
            "marker_key": rendered.markers.key, "story_ids": [s.story_id for s in rendered.stories],
            "audience": audiences.Audience.of(issue).as_item(),
            "stories_digest": stories_digest(rendered.stories), "rendered_at": clock.iso()}
    if replace:
        aws.table().put_item(Item=item)
    else:
        dynamo.put_if_new(item)


def discard(issue_id: str) -> None:
    """The stored rendering holds story words and names: it goes when the send is done."""
    aws.table().delete_item(Key=keys.issue_rendered(issue_id))


def stories_digest(shown) -> str:
    """What the stories in a rendering show (words, title, attribution), or that one is gone."""
    import dataclasses
    import hashlib

    shown = [dataclasses.asdict(s) if s is not None else None for s in shown]
    return hashlib.sha256(json.dumps(shown, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class Rendering:
    message: mail.PreparedMessage
    story_ids: tuple[str, ...]
    stories_digest: str
    audience: audiences.Audience


@functools.lru_cache(maxsize=4)
def prepared(issue_id: str) -> Rendering:
    """The issue's MIME, built once per warm Lambda (one read, amortised over every recipient)."""
    item = aws.table().get_item(Key=keys.issue_rendered(issue_id), ConsistentRead=True)["Item"]
    html = zlib.decompress(bytes(item["html_z"])).decode()
    text = zlib.decompress(bytes(item["text_z"])).decode()
    markers = mail.Markers(item["marker_key"])
    return Rendering(mail.PreparedMessage(outgoing(item["subject"], html, text, markers, issue_id), markers),
                     tuple(item.get("story_ids", ())), str(item.get("stories_digest", "")),
                     audiences.Audience.of(item))


class ConsentWatch:
    """Keeps every copy true to the stories' consent as it is now, to within a second.

    Before the first copy of each queue message, and then at most once a second, the stories the
    held rendering shows are read again. If any was withdrawn or narrowed (or its words changed),
    the copy is built from a rendering that shows them as they are now: the stored one if another
    sender already redid it, otherwise a new one. An issue with no stories costs no reads at all.
    A sender's copies in flight together (delivery.InFlight) ask one at a time, so one of them re-reads."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._checked: dict[str, float] = {}
        self._lock = threading.Lock()

    def current(self, issue_id: str) -> mail.PreparedMessage:
        with self._lock:
            return self._current(issue_id)

    def _current(self, issue_id: str) -> mail.PreparedMessage:
        held = prepared(issue_id)
        if not held.story_ids:
            return held.message
        now = self._monotonic()
        if now - self._checked.get(issue_id, float("-inf")) < CONSENT_RECHECK_SECONDS:
            return held.message
        shown = [newsletter.shareable_story(sid, "newsletter") for sid in held.story_ids]
        if stories_digest(shown) != held.stories_digest:
            prepared.cache_clear()
            held = prepared(issue_id)
            if stories_digest(newsletter.shareable_story(sid, "newsletter") for sid in held.story_ids) \
                    != held.stories_digest:
                store_rendered(issues.get(issue_id), replace=True)
                prepared.cache_clear()
                held = prepared(issue_id)
                logger().info("issue re-rendered after a consent change", extra={"issue_id": issue_id})
        self._checked[issue_id] = now
        return held.message

    def forget(self, issue_id: str) -> None:
        """The next copy checks again whatever the time (a new queue message: one read per 100 copies)."""
        with self._lock:
            self._checked.pop(issue_id, None)

    def reset(self) -> None:
        self._checked.clear()


consent_watch = ConsentWatch()


def outgoing(subject: str, html: str, text: str, markers: mail.Markers, issue_id: str = "") -> mail.OutgoingMessage:
    """The issue's message; its SES tag names the issue, so a bounce or complaint is counted against it."""
    settings = get_settings()
    return mail.OutgoingMessage(
        to=markers.address, subject=subject, text=text, html=html, sender=settings.newsletter_from,
        reply_to=settings.reply_to, list_id=settings.list_id,
        unsubscribe_url=markers.placeholder("unsubscribe_url"), unsubscribe_mailto=settings.unsubscribe_mailto,
        tags={"purpose": "newsletter", **({"issue": issue_id} if issue_id else {})})


# ---------------------------------------------------------------- previews and test sends


def _sample_values(name: str) -> dict[str, str]:
    """A coordinator's preview or test: their name, and links that lead somewhere harmless."""
    first = (name or "").split(" ")[0]
    return newsletter.personal_values(first, links.subscribe(), links.subscribe())


def preview(issue: dict, coordinator_name: str):
    return newsletter.fill(newsletter.render(issue, channel="newsletter", personal=True),
                           _sample_values(coordinator_name))


def send_test(issue: dict, to: str, coordinator_name: str) -> str:
    """A test copy, built exactly as subscribers' copies are (same MIME, same substitution)."""
    from chalicelib import ratelimit

    ratelimit.enforce("issue-test", to, 30)
    rendered = newsletter.render(issue, channel="newsletter", personal=True)
    message = mail.PreparedMessage(outgoing(f"[Test] {rendered.subject}", rendered.html, rendered.text,
                                            rendered.markers), rendered.markers)
    ses_id = mail.send_prepared(message, to, _sample_values(coordinator_name),
                                f"test.{issue['issue_id']}.{uuid.uuid4().hex}")
    logger().info("issue test sent", extra={"issue_id": issue["issue_id"]})
    return ses_id
