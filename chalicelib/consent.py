"""Story consent: the levels, the channels, the wording people agree to, and the ONE function that
decides what of a story may be shown on a channel. Every rendering path goes through decide()."""
from __future__ import annotations

from dataclasses import dataclass

CHANNELS = ("newsletter", "archive", "social", "reports")
LEVELS = ("private", "anonymous", "first_name", "full_name")

# Only a published story is shown anywhere; "approved" means ready, waiting for the coordinator to publish.
SHAREABLE_STATUSES = ("published",)

CHANNEL_LABELS = {
    "newsletter": "The #PeerTalk newsletter, emailed to subscribers",
    "archive": "The public web archive of past newsletter issues",
    "social": "Our social media accounts",
    "reports": "Films and reports to the people who fund and commission services",
}
LEVEL_LABELS = {
    "private": "Keep it private",
    "anonymous": "Share it anonymously",
    "first_name": "Share it with my first name only",
    "full_name": "Share it with my full name",
}
LEVEL_EXPLANATIONS = {
    "private": ("Only our coordinators will read it. We will not publish it anywhere. If you give an "
                "email address, we can help you think about whether and how to share it."),
    "anonymous": "We may share it in the places you tick below, with no name. It will say \"Anonymous\".",
    "first_name": "We may share it in the places you tick below, with only your first name.",
    "full_name": "We may share it in the places you tick below, with your name as you wrote it.",
}

WORDING_VERSION = "story-consent-2026-11"
WORDING = {
    WORDING_VERSION: (
        "I agree that the coordinators may keep and read my story, including what it says about my "
        "mental health, and share it only as I have chosen above. I understand I can change or "
        "withdraw my consent at any time, as easily as I gave it, using the private link we email "
        "me or by contacting the coordinators. If I withdraw, my story and name are erased."
    ),
}


@dataclass(frozen=True)
class SharedStory:
    story_id: str
    version: int
    title: str
    text: str            # the approved version's text, exactly
    attribution: str     # "Anonymous", the first name, or the full name, per consent level
    content_notes: tuple[str, ...]


def first_name(name: str) -> str:
    parts = (name or "").split()
    return parts[0] if parts else ""


def attribution(level: str, name: str) -> str:
    """The name shown with a story: never more than the level allows."""
    name = " ".join((name or "").split())
    if level == "full_name" and name:
        return name
    if level == "first_name" and name:
        return first_name(name)
    return "Anonymous"


def _version(story: dict, number) -> dict | None:
    for version in story.get("versions") or ():
        if int(version.get("number", -1)) == int(number):
            return version
    return None


def decide(story: dict, channel: str) -> SharedStory | None:
    """What of this story may appear on this channel now: the approved version and the attribution
    its consent level allows, or None. Pure: the story record as stored (META plus its versions)."""
    if channel not in CHANNELS or not story or story.get("withdrawn_at"):
        return None
    if story.get("status") not in SHAREABLE_STATUSES:
        return None
    consent = story.get("consent") or {}
    level = consent.get("level")
    if level not in LEVELS or level == "private":
        return None
    if channel not in (consent.get("channels") or ()):
        return None
    if consent.get("wording_version") not in WORDING:
        return None
    number = consent.get("version")
    # Consent binds to one version: the one the contributor approved, and no edit may be pending.
    if number is None or story.get("approved_version") is None or story.get("current_version") is None:
        return None
    if int(number) != int(story["approved_version"]) or int(number) != int(story["current_version"]):
        return None
    version = _version(story, number)
    if not version or not version.get("approved_at") or not version.get("text"):
        return None
    return SharedStory(
        story_id=str(story["story_id"]),
        version=int(number),
        title=str(version.get("title", "")),
        text=str(version["text"]),
        attribution=attribution(level, str(story.get("name") or "")),
        content_notes=tuple(version.get("content_notes") or ()),
    )
