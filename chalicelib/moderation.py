"""Moderation that closes the loop with contributors: writing to them through PeerPost, declining with
a reason they are told kindly, internal notes and an assignee, a readable difference between versions,
telling the team when a contributor answers, and safeguarding flags marked handled by a named person.

A contributor's address stays in the story: coordinators write "to the contributor" and PeerPost sends
it from the organisation's address (replies go to its reply-to). Only safeguarding leads see it, on a
page of its own whose every view is in the audit trail (chalicelib.routes.stories.story_contact).
"""
from __future__ import annotations

import difflib
import html
import re
from datetime import timedelta

from chalicelib import audit, claims, clock, emails, links, roles
from chalicelib.errors import Conflict, ValidationError
from chalicelib.forms import clean_line, clean_text

MAX_MESSAGE = 5000
MAX_NOTE = 2000
SECOND_ALERT_AFTER = timedelta(hours=24)
DEFAULT_DECLINE = (
    "Thank you for trusting us with your story. We have read it carefully, and we have decided not to "
    "share it this time.\n\n{reason}\n\nThis is not a judgement of you or of what you went through. "
    "You are welcome to send us another story at any time, and your story page still lets you withdraw "
    "this one so that we erase it.")


def _stories():
    from chalicelib import stories

    return stories


def _coordinator_link(story_id: str) -> str:
    return links.coordinator_story(story_id)


def decline(story_id: str, by, reason: str, message: str) -> dict:
    """Reject with a reason the team keeps, and tell the contributor in the (adjustable) words given."""
    stories = _stories()
    reason, message = clean_text(reason)[:MAX_NOTE], clean_text(message)[:MAX_MESSAGE]
    errors = {}
    if not reason:
        errors["reason"] = "Say why the story is declined: the team keeps this, and it goes into the message."
    story = stories.get(story_id)
    if story.get("email") and not message:
        errors["decline_message"] = "Write the message the contributor will get, or keep the suggested one."
    if errors:
        raise ValidationError(errors)
    message = message.replace("{reason}", reason)
    stories.set_status(story_id, "rejected", extra={"decline_reason": reason, "declined_by": by.name})
    if story.get("email"):
        emails.send(story["email"], "story_message", "About the story you sent us", purpose="story-declined",
                    message=message, contributor_url=stories.contributor_url(story_id))
    return stories.get(story_id)


def decline_wording(story: dict) -> str:
    return DEFAULT_DECLINE


def write(story_id: str, by, subject: str, message: str) -> None:
    """Email the contributor from the organisation; the coordinator never sees where it goes."""
    stories = _stories()
    subject, message = clean_line(subject)[:150], clean_text(message)[:MAX_MESSAGE]
    errors = {}
    if not subject:
        errors["subject"] = "Give the message a subject."
    if not message:
        errors["message"] = "Write your message."
    if errors:
        raise ValidationError(errors)
    story = stories.get(story_id)
    if story["status"] == "withdrawn":
        raise Conflict("This story was withdrawn: its contributor's address is erased.")
    if not story.get("email"):
        raise Conflict("The contributor gave no email address, so PeerPost cannot write to them.")
    emails.send(story["email"], "story_message", subject, purpose="story-message", message=message,
                contributor_url=stories.contributor_url(story_id))
    stories.append_to(story_id, "messages", {"at": clock.iso(), "by": by.name, "subject": subject})


def add_note(story_id: str, by, text: str) -> None:
    text = clean_text(text)[:MAX_NOTE]
    if not text:
        raise ValidationError({"note": "Write the note first."})
    _stories().append_to(story_id, "notes", {"at": clock.iso(), "by": by.name, "text": text})


def assign(story_id: str, coordinator_id: str) -> None:
    from chalicelib import team

    if coordinator_id and coordinator_id not in {p["id"] for p in team.holders(roles.MODERATOR)}:
        raise ValidationError({"assignee": "Choose one of the moderators."})
    _stories().set_fields(story_id, {"assignee": coordinator_id} if coordinator_id else {},
                          remove=() if coordinator_id else ("assignee",))


def contact(story_id: str) -> dict:
    story = _stories().get(story_id)
    return {"name": story.get("name", ""), "email": story.get("email", "")}


def mark_handled(story_id: str, by, note: str) -> None:
    note = clean_text(note)[:MAX_NOTE]
    if not note:
        raise ValidationError({"handled_note": "Say what was done (for example: called them, signposted to crisis line)."})
    story = _stories().get(story_id)
    if not story.get("safeguarding"):
        raise Conflict("This story has no safeguarding flag.")
    if story.get("safeguarding_handled_at"):
        raise Conflict("This flag was already marked handled.")
    _stories().set_fields(story_id, {"safeguarding_handled_at": clock.iso(), "safeguarding_handled_by": by.name,
                                     "safeguarding_note": note})


def second_alerts() -> int:
    """A safeguarding flag still unhandled a day after the story came: every safeguarding lead is told,
    once. Runs hourly with the other story checks."""
    from chalicelib import team

    stories, sent = _stories(), 0
    cutoff = clock.iso(clock.now() - SECOND_ALERT_AFTER)
    leads = team.holders(roles.SAFEGUARDING)
    for status in stories.STATUSES:
        if status == "withdrawn":
            continue
        for item in stories.iter_by_status(status):
            if (not item.get("safeguarding") or item.get("safeguarding_handled_at")
                    or item["created_at"] > cutoff or not claims.claim(claims.SAFEGUARDING_SECOND_ALERT, item["story_id"])):
                continue
            for lead in leads:
                emails.send(lead["email"], "story_safeguarding", "Safeguarding: a flag is still not handled",
                            purpose="story-safeguarding-second", story_id=item["story_id"], second=True,
                            coordinator_url=_coordinator_link(item["story_id"]))
            sent += 1
    return sent


def tell_the_team(story: dict, what: str) -> None:
    """The contributor approved, declined or withdrew: the assigned moderator is told, or every moderator."""
    from chalicelib import team

    moderators = team.holders(roles.MODERATOR)
    chosen = [p for p in moderators if p["id"] == story.get("assignee")] or moderators
    for person in chosen:
        emails.send(person["email"], "story_answer", f"A contributor has {what}", purpose="story-answer",
                    what=what, story_id=story["story_id"], coordinator_url=_coordinator_link(story["story_id"]))
    audit.append("contributor_answered", who_id="contributor", who_name="contributor",
                 record={"story_id": story["story_id"]}, detail=what)


def difference(before: str, after: str) -> list[dict]:
    """Word by word, what an edit changed: runs of kept, removed and added words, to show with <del>/<ins>."""
    old, new = re.findall(r"\S+|\s+", before), re.findall(r"\S+|\s+", after)  # words and the space between
    runs = []
    for op, a1, a2, b1, b2 in difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes():
        if op == "equal":
            runs.append({"kind": "same", "text": "".join(old[a1:a2])})
            continue
        if a2 > a1:
            runs.append({"kind": "removed", "text": "".join(old[a1:a2])})
        if b2 > b1:
            runs.append({"kind": "added", "text": "".join(new[b1:b2])})
    return runs


def difference_html(before: str, after: str) -> str:
    tags = {"same": "span", "removed": "del", "added": "ins"}
    return "".join(f"<{tags[r['kind']]}>{html.escape(r['text'])}</{tags[r['kind']]}>" for r in difference(before, after))
