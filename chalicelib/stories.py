"""Stories: submission, immutable versions, moderation, the append-only consent ledger, withdrawal,
safeguarding, retention, and the shareable views that every channel renders from."""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Iterator

from chalicelib import (aws, claims, clock, consent, dynamo, emails, forms, keys, links, moderation, ratelimit,
                        spreadsheet, tokens)
from chalicelib.consent import CHANNELS, LEVELS, SharedStory
from chalicelib.errors import Conflict, NotFound, RateLimited, ReadsUnprocessed, ValidationError
from chalicelib.forms import clean_line, clean_text, str_list, ticked
from chalicelib.models import Field, Model
from chalicelib.observability import count, logger
from chalicelib.wiring import Metric
from chalicelib.signing_secret import keyed_hash
from chalicelib.settings import get_settings

STATUSES = ("new", "in_review", "awaiting_approval", "approved", "published", "withdrawn", "rejected")
STATUS_LABELS = {
    "new": "New",
    "in_review": "In review",
    "awaiting_approval": "Awaiting the contributor's approval",
    "approved": "Approved",
    "published": "Published",
    "withdrawn": "Withdrawn",
    "rejected": "Rejected",
}
# The contributor reads their own status on their private page: it speaks to them.
CONTRIBUTOR_STATUS_LABELS = {**STATUS_LABELS, "awaiting_approval": "Waiting for you to approve the edit"}
_STATUS_METRICS = {"in_review": Metric.STORIES_IN_REVIEW, "approved": Metric.STORIES_APPROVED,
                   "published": Metric.STORIES_PUBLISHED, "rejected": Metric.STORIES_REJECTED}
# What a coordinator may move a story to, from each status. Withdrawal is separate (always allowed).
TRANSITIONS = {
    "new": ("in_review", "rejected"),
    "in_review": ("approved", "rejected"),
    "awaiting_approval": ("rejected",),
    "approved": ("published", "in_review", "rejected"),
    "published": ("in_review",),
    "rejected": ("in_review",),
    "withdrawn": (),
}
# What coordinators add to a story: erased with it, since notes and reasons can speak of the person.
COORDINATOR_FIELDS = ("notes", "messages", "decline_reason", "declined_by", "safeguarding_note", "assignee")
UNPUBLISHED = ("new", "in_review", "awaiting_approval", "approved", "rejected")
MAX_TITLE = 150
MAX_NAME = 120
MAX_NOTES = 300
MAX_SUBMISSION_ID = 100


@dataclass(frozen=True)
class Submission:
    title: str
    text: str
    name: str
    email: str
    content_notes: tuple[str, ...]
    level: str
    channels: tuple[str, ...]
    wording_version: str
    submission_id: str = ""  # from the form: the same one sent twice is one story


def _notes(raw) -> tuple[str, ...]:
    if isinstance(raw, (list, tuple)):
        raw = ",".join(str(r) for r in raw)
    return tuple(dict.fromkeys(n for n in (clean_line(p) for p in str(raw or "").split(",")) if n))


def _channels(raw) -> tuple[str, ...]:
    chosen = str_list(raw)
    return tuple(c for c in CHANNELS if c in chosen), [c for c in chosen if c not in CHANNELS]


def _check_consent(level: str, channels_raw, name: str, errors: dict) -> tuple[str, ...]:
    channels, unknown = _channels(channels_raw)
    if level not in LEVELS:
        errors["level"] = "Choose how much of your story we may share."
    if unknown:
        errors["channels"] = "Choose from the places listed."
    elif level == "private" and channels:
        errors["channels"] = ("You chose to keep your story private, so we cannot share it anywhere. "
                              "Untick these boxes, or choose another option above.")
    if level in ("first_name", "full_name") and not name:
        errors["name"] = "Add your name, or choose to share anonymously."
    return channels


STORY_MODEL = Model("Story", (
    Field("title", required=True, max_length=MAX_TITLE),
    Field("text", required=True, description="The story, plain text"),
    Field("name", max_length=MAX_NAME),
    Field("email", max_length=254, format="email", description="For the receipt and the private link"),
    Field("content_notes", max_length=MAX_NOTES),
    Field("level", required=True, enum=consent.LEVELS),
    Field("channels", "array", enum=consent.CHANNELS, max_length=len(consent.CHANNELS)),
    Field("consent", "boolean", required=True, description="Explicit consent to process health information"),
    Field("consent_version", max_length=64),
    Field("submission_id", max_length=MAX_SUBMISSION_ID,
          description="Unique per story; sending the same one again stores nothing new"),
))


def parse_submission(data: dict) -> Submission:
    settings = get_settings()
    errors: dict[str, str] = {}
    title = clean_line(data.get("title"))
    text = clean_text(data.get("text"))
    name = clean_line(data.get("name"))
    notes_raw = str(data.get("content_notes") or "")
    if not title:
        errors["title"] = "Give your story a title."
    elif len(title) > MAX_TITLE:
        errors["title"] = f"Use at most {MAX_TITLE} characters for the title."
    if not text:
        errors["text"] = "Write your story."
    elif len(text) > settings.max_story_chars:
        errors["text"] = (f"Your story is {len(text):,} characters long; the limit is {settings.max_story_chars:,}. "
                          "Please shorten it, or send it in two parts.")
    if len(name) > MAX_NAME:
        errors["name"] = f"Use at most {MAX_NAME} characters."
    email = ""
    if clean_line(data.get("email")):

        try:
            email = forms.email_address(data.get("email"))
        except ValidationError as exc:
            errors.update(exc.errors)
    if len(notes_raw) > MAX_NOTES:
        errors["content_notes"] = f"Use at most {MAX_NOTES} characters."
    level = str(data.get("level") or "")
    channels = _check_consent(level, data.get("channels"), name, errors)
    wording_version = str(data.get("consent_version") or consent.WORDING_VERSION)
    if not ticked(data.get("consent")):
        errors["consent"] = "Tick the box to agree, so we can keep your story."
    elif wording_version not in consent.WORDING:
        errors["consent"] = "The wording of this form has changed. Please read it again and tick the box."
    if errors:
        raise ValidationError(errors)
    submission_id = str(data.get("submission_id") or "")
    return Submission(title, text, name, email, _notes(notes_raw), level, channels, wording_version,
                      submission_id if len(submission_id) <= MAX_SUBMISSION_ID else "")


# ---------------------------------------------------------------- storage

def _commit(story: dict | None, story_id: str, set_fields: dict, remove: tuple[str, ...] = (),
            ledger: dict | None = None, puts: tuple[dict, ...] = (), deletes: tuple[dict, ...] = (),
            extra: tuple[dynamo.Op, ...] = ()) -> int:
    """One transaction: the META update (guarded by its revision, so concurrent changes never interleave),
    plus new version items, deleted items and, if given, one new consent-ledger entry."""
    revision = int((story or {}).get("revision", 0)) + 1
    meta = {**set_fields, "revision": revision, "updated_at": clock.iso()}
    if story is None:
        meta_op = dynamo.put({**keys.story(story_id), **meta}, "attribute_not_exists(PK)")
    else:
        names = {f"#f{i}": k for i, k in enumerate(meta)}
        values = {f":v{i}": v for i, v in enumerate(meta.values())}
        expression = "SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(meta)))
        if remove:
            names.update({f"#r{i}": k for i, k in enumerate(remove)})
            expression += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(remove)))
        names["#rev"] = "revision"
        values[":expected"] = int(story.get("revision", 0))
        meta_op = dynamo.update(keys.story(story_id), expression, "#rev = :expected", names, values)
    items = [meta_op, *extra]
    items += [dynamo.put(item, "attribute_not_exists(PK)") for item in puts]
    items += [dynamo.delete(key) for key in deletes]
    if ledger is not None:
        at = ledger.get("at") or clock.iso()
        entry = {**keys.story_consent_entry(story_id, at, revision), "story_id": story_id, "seq": revision,
                 **ledger, "at": at}
        # Append-only: an entry is written once and never updated; nothing in PeerPost deletes one.
        items.append(dynamo.put(entry, "attribute_not_exists(PK)"))
    try:
        dynamo.transact(items)
    except dynamo.TransactionFailed as exc:
        raise Conflict("This story changed while you were looking at it. Please reload and try again.") from exc
    return revision


def load(story_id: str) -> dict | None:
    """The story as stored: META plus its versions (oldest first) and consent history (in order)."""
    from boto3.dynamodb.conditions import Key

    if not story_id or len(story_id) > 64:
        return None
    # Strongly consistent: a withdrawal or narrowing must hold for the very next render.
    items = list(dynamo.query_items(KeyConditionExpression=Key("PK").eq(keys.story_partition(story_id)),
                                 ConsistentRead=True))
    meta = next((i for i in items if i["SK"] == keys.META), None)
    if meta is None:
        return None
    versions = sorted((i for i in items if i["SK"].startswith("VERSION#")), key=lambda v: int(v["number"]))
    history = sorted((i for i in items if i["SK"].startswith("CONSENT#")), key=lambda e: int(e["seq"]))
    return {**meta, "versions": versions, "consent_history": history}


def get(story_id: str) -> dict:
    story = load(story_id)
    if story is None:
        raise NotFound("There is no such story.")
    return story


def current(story: dict) -> dict | None:
    """The newest version (what a coordinator last wrote, or what was submitted)."""
    return story["versions"][-1] if story.get("versions") else None


def approved(story: dict) -> dict | None:
    number = story.get("approved_version")
    return next((v for v in story.get("versions", []) if number is not None and int(v["number"]) == int(number)), None)


def _version_item(story_id: str, number: int, title: str, text: str, notes: tuple[str, ...],
                  created_by: str, approved_at: str | None) -> dict:
    return {**keys.story_version(story_id, number), "story_id": story_id, "number": number, "title": title,
            "text": text, "content_notes": list(notes), "created_by": created_by, "created_at": clock.iso(),
            "approved_at": approved_at}


def _consent_fields(level: str, channels, wording_version: str, version: int, method: str, at: str) -> dict:
    return {"level": level, "channels": list(channels), "wording_version": wording_version,
            "version": version, "method": method, "given_at": at}


# ---------------------------------------------------------------- the contributor

def contributor_url(story_id: str) -> str:
    return links.contributor(story_id)


def story_id_from_token(token: str) -> str:
    # No expiry: consent must stay withdrawable at any time from the link we sent.
    return str(tokens.verify(links.Purpose.STORY_CONTRIBUTOR, token))


def matches_safeguarding(*texts: str) -> bool:
    haystack = " ".join(" ".join(t.lower().split()) for t in texts)
    return any(phrase.lower() in haystack for phrase in get_settings().safeguarding_phrases if phrase.strip())


def submit(submission: Submission, client: str) -> str:
    """Store a story, send its receipt and any safeguarding alert. A submission id seen before (the same
    form sent twice) stores and sends nothing new, and gives the first one's id."""
    settings = get_settings()
    if submission.submission_id:
        story_id = keyed_hash("story-submission", submission.submission_id, length=16)
        if load(story_id) is not None:
            return story_id
    else:
        story_id = secrets.token_hex(8)
    if not ratelimit.allow("story-client", client, settings.story_rate_limit_per_client_per_hour):
        raise RateLimited("We have had a lot of stories from here in the last hour. Your story is still in the "
                          "form below: please wait a while and send it again.")
    now = clock.iso()
    flagged = matches_safeguarding(submission.title, submission.text, " ".join(submission.content_notes))
    meta = {
        "story_id": story_id, "status": "new", "created_at": now, **keys.story_index("new", now, story_id),
        "title": submission.title, "name": submission.name, "email": submission.email,
        "consent": _consent_fields(submission.level, submission.channels, submission.wording_version, 1, "form", now),
        "current_version": 1, "approved_version": 1, "safeguarding": flagged, "keep": False,
    }
    version = _version_item(story_id, 1, submission.title, submission.text, submission.content_notes,
                            "contributor", now)
    try:
        _commit(None, story_id, meta, puts=(version,), ledger={
            "event": "given", "at": now, "actor": "contributor",
            **{k: v for k, v in meta["consent"].items() if k != "given_at"}})
    except Conflict:
        if submission.submission_id:
            return story_id  # the same form, sent twice at once: the other request stored it
        raise
    count(Metric.STORIES_SUBMITTED)
    logger().info("story submitted", extra={"story_id": story_id, "safeguarding": flagged})
    if flagged:
        _alert_safeguarding(story_id)
    if submission.email and ratelimit.allow("story-address", submission.email,
                                            settings.rate_limit_per_address_per_hour):
        emails.send(submission.email, "story_receipt", "Thank you for your story", purpose="story-receipt",
                    first_name=consent.first_name(submission.name), level=consent.LEVEL_LABELS[submission.level],
                    channels=[consent.CHANNEL_LABELS[c] for c in submission.channels],
                    contributor_url=contributor_url(story_id))
    return story_id


def _alert_safeguarding(story_id: str) -> None:
    """Tell the safeguarding contact at once, with a link and never the story's words."""
    if not claims.claim(claims.SAFEGUARDING_ALERT, story_id):
        return
    count(Metric.STORIES_SAFEGUARDING_FLAGGED)
    emails.send(get_settings().safeguarding_email, "story_safeguarding", "Safeguarding: a story needs reading today",
                purpose="story-safeguarding", story_id=story_id,
                coordinator_url=links.coordinator_story(story_id))


def change_consent(story_id: str, data: dict, actor: str = "contributor", method: str = "contributor-link") -> dict:
    """Narrow or widen: takes effect for every render from now on (shareable() reads it live)."""
    story = get(story_id)
    if story["status"] == "withdrawn":
        raise Conflict("This story has been withdrawn.")
    errors: dict[str, str] = {}
    level = str(data.get("level") or "")
    channels = _check_consent(level, data.get("channels"), story.get("name", ""), errors)
    if errors:
        raise ValidationError(errors)
    old = story["consent"]
    direction = _direction(old, level, channels)
    if actor != "contributor" and direction in ("widened", "changed"):
        # Consent is the contributor's to give: a coordinator may only narrow it on their behalf.
        raise ValidationError({"level": "Only the contributor can widen their consent, from their private link. "
                                        "A coordinator can only narrow it."})
    now = clock.iso()
    new = {**old, "level": level, "channels": list(channels), "method": method, "given_at": now,
           "wording_version": consent.WORDING_VERSION}
    _commit(story, story_id, {"consent": new}, ledger={
        "event": direction, "at": now, "actor": actor, "method": method,
        "level": level, "channels": list(channels), "wording_version": consent.WORDING_VERSION,
        "version": int(old["version"])})
    count(Metric.STORY_CONSENT_CHANGED)
    return get(story_id)


def _direction(old: dict, level: str, channels) -> str:
    old_rank, new_rank = LEVELS.index(old["level"]), LEVELS.index(level)
    wider = new_rank > old_rank or bool(set(channels) - set(old["channels"]))
    narrower = new_rank < old_rank or bool(set(old["channels"]) - set(channels))
    if wider and narrower:
        return "changed"
    return "widened" if wider else "narrowed" if narrower else "confirmed"


def approve_version(story_id: str, number: int) -> dict:
    """The contributor approves exactly this version; their consent now binds to it."""
    story = get(story_id)
    latest = current(story)
    if story["status"] != "awaiting_approval" or latest is None or int(latest["number"]) != int(number):
        raise Conflict("There is no edited version waiting for your approval, or it has changed since you "
                       "opened this page. Please reload the page.")
    now = clock.iso()
    old = story["consent"]
    # The version's words are never changed; only its approval time is recorded, once, in the same step.
    stamp = dynamo.update(keys.story_version(story_id, int(number)), "SET approved_at = :now",
                          "attribute_exists(PK) AND approved_at = :none", values={":now": now, ":none": None})
    _commit(story, story_id, {
        "approved_version": int(number), "status": "in_review",
        **keys.story_index("in_review", story["created_at"], story_id),
        "consent": {**old, "version": int(number), "given_at": now, "method": "contributor-link"},
    }, ledger={"event": "version-approved", "at": now, "actor": "contributor", "method": "contributor-link",
               "level": old["level"], "channels": list(old["channels"]), "wording_version": old["wording_version"],
               "version": int(number)}, extra=(stamp,))
    count(Metric.STORY_VERSIONS_APPROVED)
    moderation.tell_the_team(story, "approved the edited version")
    return get(story_id)


def keep_my_version(story_id: str, number: int) -> dict:
    """The contributor declines edited version `number`: their last approved words come back as a new
    version (history is never rewritten), already approved by them, and the story returns to review."""
    story = get(story_id)
    latest, mine = current(story), approved(story)
    if story["status"] != "awaiting_approval" or latest is None or mine is None or int(latest["number"]) != int(number):
        raise Conflict("There is no edited version waiting for your answer, or it has changed since you "
                       "opened this page. Please reload the page.")
    now, old = clock.iso(), story["consent"]
    new_number = int(latest["number"]) + 1
    restored = {**_version_item(story_id, new_number, mine["title"], mine["text"],
                                tuple(mine.get("content_notes") or ()), "contributor", now),
                "restored_from": int(mine["number"])}
    _commit(story, story_id, {
        "current_version": new_number, "approved_version": new_number, "title": mine["title"], "status": "in_review",
        **keys.story_index("in_review", story["created_at"], story_id),
        "consent": {**old, "version": new_number, "given_at": now, "method": "contributor-link"},
    }, puts=(restored,), ledger={
        "event": "edit-declined", "at": now, "actor": "contributor", "method": "contributor-link",
        "level": old["level"], "channels": list(old["channels"]), "wording_version": old["wording_version"],
        "version": new_number})
    count(Metric.STORY_EDITS_DECLINED)
    moderation.tell_the_team(story, "declined the edit and kept their own words")
    return get(story_id)


def withdraw(story_id: str, actor: str = "contributor", method: str = "contributor-link") -> None:
    """Withdraw consent: the story leaves every channel at once; its words, name and email are erased and a
    minimal ledger entry (id, dates, withdrawn) remains."""
    story = get(story_id)
    if story["status"] == "withdrawn":
        return
    email = story.get("email", "")
    _erase(story, "withdrawn", actor, method)
    count(Metric.STORIES_WITHDRAWN)
    logger().info("story withdrawn", extra={"story_id": story_id, "method": method})
    if actor == "contributor":
        moderation.tell_the_team(story, "withdrawn their story")
    if email:
        emails.send(email, "story_withdrawn", "Your story has been withdrawn", purpose="story-withdrawn")


def _erase(story: dict, event: str, actor: str, method: str) -> None:
    story_id, now = story["story_id"], clock.iso()
    _commit(story, story_id, {
        "status": "withdrawn", "withdrawn_at": now, **keys.story_index("withdrawn", story["created_at"], story_id),
        "consent": {"level": "private", "channels": [], "wording_version": story["consent"]["wording_version"],
                    "version": None, "method": method, "given_at": now},
        "erased": True,
    }, remove=("title", "name", "email", "approved_version", "current_version", *COORDINATOR_FIELDS),
        deletes=tuple(keys.story_version(story_id, int(v["number"])) for v in story["versions"]),
        ledger={"event": event, "at": now, "actor": actor, "method": method, "level": "private", "channels": [],
                "wording_version": story["consent"]["wording_version"], "version": None})


# ---------------------------------------------------------------- the coordinator

def set_status(story_id: str, status: str, extra: dict | None = None) -> dict:
    """Move a story on (TRANSITIONS); `extra`: fields kept with the move (a decline's reason)."""
    story = get(story_id)
    if status not in TRANSITIONS.get(story["status"], ()):
        raise Conflict(f"A story that is {STATUS_LABELS[story['status']].lower()} cannot be moved to "
                       f"{STATUS_LABELS.get(status, status).lower()}.")
    if status in ("approved", "published"):
        if int(story.get("approved_version") or 0) != int(story["current_version"]):
            raise Conflict("The contributor has not approved the latest version yet.")
    if status == "rejected" and not (extra or {}).get("decline_reason"):
        raise ValidationError({"reason": "Say why the story is declined."})
    fields = {"status": status, **keys.story_index(status, story["created_at"], story_id), **(extra or {})}
    remove: tuple[str, ...] = ()
    if status == "published":
        fields["published_at"] = clock.iso()
        fields["published_version"] = int(story["current_version"])
        remove = ("retention_flagged_at",) if story.get("retention_flagged_at") else ()
    _commit(story, story_id, fields, remove=remove)
    count(_STATUS_METRICS[status])
    return get(story_id)


def edit(story_id: str, data: dict, editor: str) -> dict:
    """A coordinator's edit is a new version; it waits for the contributor's approval of exactly it."""
    story = get(story_id)
    if story["status"] == "withdrawn":
        raise Conflict("This story has been withdrawn.")
    errors: dict[str, str] = {}
    title, text = clean_line(data.get("title")), clean_text(data.get("text"))
    notes = _notes(data.get("content_notes"))
    if not title:
        errors["title"] = "Give the story a title."
    elif len(title) > MAX_TITLE:
        errors["title"] = f"Use at most {MAX_TITLE} characters for the title."
    if not text:
        errors["text"] = "The story cannot be empty."
    elif len(text) > get_settings().max_story_chars:
        errors["text"] = f"Use at most {get_settings().max_story_chars:,} characters."
    if errors:
        raise ValidationError(errors)
    latest = current(story)
    if (title, text, notes) == (latest["title"], latest["text"], tuple(latest.get("content_notes") or ())):
        raise ValidationError({"text": "Nothing has changed from the current version."})
    number = int(story["current_version"]) + 1
    version = {**_version_item(story_id, number, title, text, notes, "coordinator", None), "edited_by": editor}
    _commit(story, story_id, {"current_version": number, "title": title, "status": "awaiting_approval",
                              **keys.story_index("awaiting_approval", story["created_at"], story_id)},
            puts=(version,))
    count(Metric.STORY_VERSIONS_EDITED)
    if story.get("email"):
        emails.send(story["email"], "story_edited", "Please check the edited version of your story",
                    purpose="story-edited", first_name=consent.first_name(story.get("name", "")),
                    contributor_url=contributor_url(story_id))
    return get(story_id)


def set_fields(story_id: str, fields: dict, remove: tuple[str, ...] = ()) -> None:
    """Coordinators' own fields on a story (assignee, safeguarding handling), guarded by its revision."""
    story = get(story_id)
    if story["status"] == "withdrawn":
        raise Conflict("This story has been withdrawn.")
    _commit(story, story_id, fields, remove=remove)


def append_to(story_id: str, field: str, entry: dict) -> None:
    """Add to one of the coordinators' lists on a story (notes, messages sent); erased with the story."""
    story = get(story_id)
    if story["status"] == "withdrawn":
        raise Conflict("This story has been withdrawn.")
    _commit(story, story_id, {field: [*story.get(field, []), entry]})


def set_keep(story_id: str, keep: bool) -> dict:
    story = get(story_id)
    fields = {"keep": bool(keep)}
    _commit(story, story_id, fields, remove=("retention_flagged_at",) if keep else ())
    return get(story_id)


def iter_by_status(status: str, before: str | None = None) -> Iterator[dict]:
    from boto3.dynamodb.conditions import Key

    condition = Key("GSI1PK").eq(keys.stories_by_status(status))
    if before:
        condition = condition & Key("GSI1SK").lt(before)
    yield from dynamo.query_items(IndexName="GSI1", KeyConditionExpression=condition, ScanIndexForward=False)


def counts_by_status() -> dict[str, int]:
    return {status: sum(1 for _ in iter_by_status(status)) for status in STATUSES}


# ---------------------------------------------------------------- every channel reads from here

def shareable(story_id: str, channel: str) -> SharedStory | None:
    story = load(story_id)
    return consent.decide(story, channel) if story else None


def shareable_for(channel: str) -> list[SharedStory]:
    """Every story the channel may use now. The index only finds candidates; each story's META and
    consented version are then read strongly consistently, in batches, and decided like any render."""
    ids = [item["story_id"] for status in consent.SHAREABLE_STATUSES for item in iter_by_status(status)]
    metas = _batch_get([keys.story(i) for i in ids])
    wanted = [keys.story_version(m["story_id"], int(m["consent"]["version"])) for m in metas
              if (m.get("consent") or {}).get("version") is not None]
    versions: dict[str, list[dict]] = {}
    for version in _batch_get(wanted):
        versions.setdefault(version["story_id"], []).append(version)
    found = []
    for meta in sorted(metas, key=lambda m: (m.get("published_at", ""), m["story_id"]), reverse=True):
        shared = consent.decide({**meta, "versions": versions.get(meta["story_id"], [])}, channel)
        if shared:
            found.append(shared)
    return found


def _batch_get(wanted: list[dict]) -> list[dict]:
    try:
        return dynamo.batch_get(aws.table().meta.client, get_settings().table_name, wanted, ConsistentRead=True)
    except ReadsUnprocessed:
        count(Metric.STORY_READS_UNPROCESSED)
        raise


# ---------------------------------------------------------------- records, exports, retention

RECORD_FIELDS = ("story_id", "status", "created_at", "updated_at", "published_at", "withdrawn_at",
                 "current_version", "approved_version", "published_version", "safeguarding", "keep",
                 "retention_flagged_at")
LEDGER_FIELDS = ("seq", "at", "event", "actor", "method", "level", "channels", "version", "wording_version")


def record(story: dict) -> dict:
    """A story's consent record without its words, name or address (for exports and audits)."""
    data = {k: story[k] for k in RECORD_FIELDS if story.get(k) is not None}
    data["consent"] = {k: v for k, v in story["consent"].items()}
    data["consent_history"] = [{k: e.get(k) for k in LEDGER_FIELDS} for e in story["consent_history"]]
    return _plain(data)


def _plain(value):
    from decimal import Decimal

    if isinstance(value, Decimal):
        return int(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def all_stories() -> Iterator[dict]:
    for status in STATUSES:
        for item in iter_by_status(status):
            story = load(item["story_id"])
            if story:
                yield story


def export_records() -> list[dict]:
    return [record(story) for story in all_stories()]


def export_records_csv() -> str:
    return spreadsheet.write(["story_id", "status", "created_at", *LEDGER_FIELDS], (
        [data["story_id"], data["status"], data["created_at"],
         *[" ".join(entry[k]) if k == "channels" else entry[k] for k in LEDGER_FIELDS]]
        for data in export_records() for entry in data["consent_history"]))


def export_channel_csv(channel: str) -> str:
    """What may go out on one channel (social media, reports): through consent.decide like every render."""
    return spreadsheet.write(["story_id", "version", "title", "attribution", "content_notes", "text"], (
        [shared.story_id, shared.version, shared.title, shared.attribution, "; ".join(shared.content_notes),
         shared.text] for shared in shareable_for(channel)))


def apply_retention() -> dict[str, int]:
    """Flag unpublished stories older than the flag period; erase them a further period later unless kept."""
    settings = get_settings()
    now = clock.now()
    from datetime import timedelta

    flag_before = clock.iso(now - timedelta(days=settings.story_retention_flag_days))
    erase_before = clock.iso(now - timedelta(days=settings.story_retention_erase_days))
    flagged = erased = 0
    for status in UNPUBLISHED:
        for item in list(iter_by_status(status, before=flag_before)):
            if item.get("keep"):
                continue
            story = load(item["story_id"])
            if story is None or story["status"] != status:
                continue
            try:
                if not story.get("retention_flagged_at"):
                    _commit(story, story["story_id"], {"retention_flagged_at": clock.iso(now)})
                    flagged += 1
                elif story["retention_flagged_at"] < erase_before:
                    _erase(story, "erased-retention", "system", "retention")
                    erased += 1
            except Conflict:
                continue  # changed under us; the next run looks again
    if flagged or erased:
        count(Metric.STORIES_RETENTION_FLAGGED, flagged)
        count(Metric.STORIES_RETENTION_ERASED, erased)
    logger().info("story retention", extra={"flagged": flagged, "erased": erased})
    return {"flagged": flagged, "erased": erased}
