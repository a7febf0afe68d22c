"""Newsletter issues: composing, editing, approval, scheduling and the public archive (the send itself is send_run.py's)."""
from __future__ import annotations

import secrets
from datetime import date as Date, datetime
from typing import Any

from chalicelib import aws, clock, dynamo, forms, keys
from chalicelib.clock import LONDON, london_to_utc  # noqa: F401 - issues.LONDON and issues.london_to_utc stay
from chalicelib.errors import Conflict, NotFound, ValidationError
from chalicelib.observability import logger

SECTION_KINDS = {"text": "Text", "story": "A shared story", "diary": "Dates for the diary (from events)",
                 "image": "An image with a caption", "cta": "A call to action (a button)"}
WRITTEN_KINDS = ("text", "image", "cta")  # the kinds with Markdown a coordinator writes
SECTION_FIELDS = {  # what each kind of section holds, and so what its card in the editor shows
    "text": ("heading", "body", "cta_label", "cta_url"),
    "story": ("heading", "story_id"),
    "diary": ("heading",),
    "image": ("heading", "image_url", "image_alt", "body"),
    "cta": ("heading", "body", "cta_label", "cta_url"),
}
EDITABLE = ("draft",)
MAX_TITLE = 120
MAX_HEADING = 120  # a section's heading: it is also a line of the "This issue" list
MAX_SECTIONS = 20
MAX_MARKDOWN = 20000


def _url_ok(url: str, schemes: tuple[str, ...]) -> bool:
    return any(url.startswith(s) for s in schemes) and " " not in url and len(url) <= 2000


def _uploaded_images() -> str:
    """Where uploaded images live (https when deployed; the local server in local mode)."""
    from chalicelib.settings import get_settings

    return get_settings().media_base_url + "/images/"


def _clean(data: dict) -> dict:
    """Control characters mean nothing in an email and break MJML and 7bit MIME: they go at the door."""
    from chalicelib.forms import strip_controls

    return {k: strip_controls(v) if isinstance(v, str) else v for k, v in data.items()}


def parse_issue(data: dict) -> dict[str, Any]:
    """Form or JSON fields -> a validated issue; errors keyed by field name for the form."""
    data = _clean(data)
    errors: dict[str, str] = {}
    title = " ".join(str(data.get("title", "")).split())
    if not title:
        errors["title"] = "Give the issue a title."
    elif len(title) > MAX_TITLE:
        errors["title"] = f"Use at most {MAX_TITLE} characters."
    raw_date = str(data.get("date", "")).strip()
    try:
        issue_date = Date.fromisoformat(raw_date).isoformat()
    except ValueError:
        issue_date = raw_date
        errors["date"] = "Enter the issue date, like 2026-12-01."
    introduction = str(data.get("introduction", "")).strip()
    if len(introduction) > MAX_MARKDOWN:
        errors["introduction"] = f"Use at most {MAX_MARKDOWN} characters."
    sections = data.get("sections", [])  # the editor's cards (issue_editor) or a JSON list
    if not isinstance(sections, list):
        errors["sections"], sections = "Sections must be a list.", []
    parsed_sections = []
    for index, raw in enumerate(sections):
        section, section_errors = _parse_section(raw)
        errors.update({f"section-{index}-{k}": v for k, v in section_errors.items()})
        parsed_sections.append(section)
    if len(parsed_sections) > MAX_SECTIONS:
        errors["sections"] = f"Use at most {MAX_SECTIONS} sections."
    requires_approval = str(data.get("requires_approval", "")).lower() in {"yes", "on", "true", "1"} \
        or data.get("requires_approval") is True
    in_archive = str(data.get("in_archive", "")).lower() in {"yes", "on", "true", "1"} or data.get("in_archive") is True
    issue = {"title": title, "date": issue_date, "introduction": introduction, "sections": parsed_sections,
             "requires_approval": requires_approval, "in_archive": in_archive}
    if errors:
        raise ValidationError(errors)
    return issue


def _parse_section(raw: dict) -> tuple[dict, dict]:
    raw = _clean(raw if isinstance(raw, dict) else {})
    errors = {}
    kind = str(raw.get("kind") or "text")
    section = {"kind": kind, "heading": " ".join(str(raw.get("heading", "")).split())}
    if kind not in SECTION_KINDS:
        errors["kind"] = "Choose a kind of section."
    if len(section["heading"]) > MAX_HEADING:
        errors["heading"] = f"Use at most {MAX_HEADING} characters."
    if kind in WRITTEN_KINDS:
        section["body"] = str(raw.get("body", "")).strip()
        for f in ("image_url", "image_alt", "cta_label", "cta_url"):
            section[f] = " ".join(str(raw.get(f, "")).split())
        if not section["heading"]:
            errors["heading"] = "Give the section a heading."
        if len(section["body"]) > MAX_MARKDOWN:
            errors["body"] = f"Use at most {MAX_MARKDOWN} characters."
        if kind == "image" and not section["image_url"]:
            errors["image_url"] = "Upload an image, or give its address (https://)."
        if section["image_url"] and not _url_ok(section["image_url"], ("https://", _uploaded_images())):
            errors["image_url"] = "Use an image address starting https://."
        if section["image_url"] and not section["image_alt"]:
            errors["image_alt"] = "Describe the image for people who cannot see it."
        if kind == "cta" and not (section["cta_label"] or section["cta_url"]):
            errors["cta_label"] = "A call to action needs a button label and a link."
        if bool(section["cta_label"]) != bool(section["cta_url"]):
            errors["cta_url" if section["cta_label"] else "cta_label"] = "A button needs both a label and a link."
        if section["cta_url"] and not _url_ok(section["cta_url"], ("https://", "http://", "mailto:")):
            errors["cta_url"] = "Use a web link (starting https:// or http://) or an email link (starting mailto:)."
    elif kind == "story":
        section["story_id"] = str(raw.get("story_id", "")).strip()
        if not section["story_id"]:
            errors["story_id"] = "Choose a story."
    elif kind == "diary":
        section["heading"] = section["heading"] or "Dates for the diary"
    return section, errors


def _new_id(issue_date: str) -> str:
    return f"{issue_date.replace('-', '')}-{secrets.token_hex(3)}"


MAX_SUBMISSION_ID = 64


KINDS = ("issue", "announcement")


def create(issue: dict, by: str, submission_id: str = "", kind: str = "issue") -> dict:
    """A new draft. submission_id: the form's own id, so the same form sent twice (a double click,
    a reload) is one issue. kind: a newsletter "issue", or a short "announcement" (to the
    announcements topic unless chosen otherwise; in the archive only if the coordinator ticks it)."""
    from chalicelib.newsletter import compile_issue
    from chalicelib.signing_secret import keyed_hash

    issue = compile_issue(issue)
    if submission_id and len(submission_id) <= MAX_SUBMISSION_ID:
        issue_id = f"{issue['date'].replace('-', '')}-{keyed_hash('issue-submission', submission_id, length=6)}"
    else:
        issue_id = _new_id(issue["date"])
    now = clock.iso()
    item = {**keys.issue(issue_id), **keys.issue_index(issue["date"], issue_id), "issue_id": issue_id, **issue,
            "kind": kind, "status": "draft", "created_by": by, "updated_by": by, "created_at": now,
            "updated_at": now, "revision": 1}
    if not dynamo.put_if_new(item):
        if submission_id:
            return get(issue_id)  # this very form was sent before: that issue, not a second one
        raise Conflict("Another issue was given the same id at the same moment. Please save again.")
    logger().info("issue created", extra={"issue_id": issue_id})
    return item


def get(issue_id: str) -> dict:
    item = aws.table().get_item(Key=keys.issue(issue_id), ConsistentRead=True).get("Item")
    if not item:
        raise NotFound("There is no such issue.")
    return item


class EditConflict(Conflict):
    """Someone else saved the issue after this editor opened it: nothing of either is overwritten."""

    def __init__(self, current: dict) -> None:
        super().__init__(f"{current.get('updated_by', 'Another coordinator')} saved this issue at "
                         f"{current.get('updated_at', '')[11:16]} UTC while you were editing. Your version is "
                         "below and has not been saved: open the issue in a new tab to see theirs, then "
                         "bring your changes across.")
        self.current = current


def update(issue_id: str, issue: dict, by: str, seen: str = "") -> dict:
    """Edit a draft. Any edit withdraws an earlier approval: the approver saw different words.

    seen: the revision the editor started from; a save over a newer one is refused."""
    from chalicelib.newsletter import compile_issue

    issue = compile_issue(issue)
    condition = "attribute_exists(PK) AND #s = :draft"
    values = {":t": issue["title"], ":d": issue["date"], ":i": issue["introduction"],
              ":ih": issue["introduction_html"], ":it": issue["introduction_text"],
              ":s": issue["sections"], ":r": issue["requires_approval"], ":a": issue.get("in_archive", False),
              ":by": by,
              ":now": clock.iso(), ":draft": "draft", ":sk": keys.issue_index(issue["date"], issue_id)["GSI1SK"],
              ":one": 1}
    if seen == "0":  # saved before revisions were counted
        condition += " AND attribute_not_exists(revision)"
    elif seen:
        condition += " AND revision = :seen"
        values[":seen"] = int(seen) if seen.isdigit() else -1
    saved = dynamo.update_if(
        Key=keys.issue(issue_id),
        UpdateExpression=("SET title = :t, #d = :d, introduction = :i, introduction_html = :ih, "
                          "introduction_text = :it, sections = :s, requires_approval = :r, in_archive = :a, "
                          "updated_by = :by, updated_at = :now, GSI1SK = :sk ADD revision :one "
                          "REMOVE approved_by, approved_at"),
        ConditionExpression=condition, ExpressionAttributeNames={"#d": "date", "#s": "status"},
        ExpressionAttributeValues=values)
    if not saved:
        current = get(issue_id)
        if current["status"] != "draft":
            raise Conflict("Only a draft can be edited. Cancel the scheduled send first.")
        raise EditConflict(current)
    return get(issue_id)


def revision(issue: dict) -> str:
    """The version an editor starts from, handed back with its save."""
    return str(int(issue.get("revision", 0)))


def copy(issue_id: str, by: str, submission_id: str = "") -> dict:
    """A new draft with this issue's structure and words, dated today; approval starts again."""
    source = get(issue_id)
    fields = {k: source.get(k, "") for k in ("title", "introduction")}
    fields["sections"] = [{k: v for k, v in section.items() if k not in ("html", "text")}
                          for section in source.get("sections", [])]
    fields["requires_approval"] = bool(source.get("requires_approval"))
    fields["in_archive"] = bool(source.get("in_archive"))
    fields["date"] = clock.now().date().isoformat()
    fields["title"] = f"Copy of {fields['title']}"[:MAX_TITLE]
    return create(fields, by=by, submission_id=submission_id, kind=source.get("kind", "issue"))


def announcement_for(event: dict, by: str, submission_id: str = "") -> dict:
    """A draft announcement about an event, written for the coordinator to adjust: its news, when and
    where, and a button to the event's page."""
    from chalicelib import events

    summary = events.summary(event)
    button = "Register here" if summary.get("status") == "scheduled" else "See the details"
    body = f"**When:** {events.when(event)}  \n**Where:** {events.where(event)}  \n**Who it is for:** {event.get('audience', '')}"
    fields = {"title": f"News about {event['title']}"[:MAX_TITLE], "date": clock.now().date().isoformat(),
              "introduction": f"There is news about {event['title']}. Write it here, for example: a new date, or places "
                              "have come free.",
              "sections": [{"kind": "cta", "heading": event["title"], "body": body, "cta_label": button,
                            "cta_url": events.public_url(event["event_id"]), "image_url": "", "image_alt": ""}],
              "requires_approval": False, "in_archive": False, "event_id": event["event_id"]}
    return create(fields, by=by, submission_id=submission_id, kind="announcement")


def in_archive(issue: dict) -> bool:
    """A sent newsletter issue is always in the public archive; an announcement only if chosen."""
    return issue["status"] in PUBLISHED and (issue.get("kind") != "announcement" or bool(issue.get("in_archive")))


def delete(issue_id: str) -> None:
    """Delete a draft that was never sent (a scheduled one must be cancelled first)."""
    if not dynamo.delete_if(Key=keys.issue(issue_id), ConditionExpression="#s = :draft",
                            ExpressionAttributeNames={"#s": "status"}, ExpressionAttributeValues={":draft": "draft"}):
        get(issue_id)
        raise Conflict("Only an unsent draft can be deleted. Cancel a scheduled send first.")
    logger().info("issue deleted", extra={"issue_id": issue_id})


def list_issues(limit: int = 50) -> list[dict]:
    from boto3.dynamodb.conditions import Key

    page = aws.table().query(IndexName="GSI1", KeyConditionExpression=Key("GSI1PK").eq(keys.issues_index()),
                             ScanIndexForward=False, Limit=limit)
    return page["Items"]


PUBLISHED = ("sending", "sent")
ARCHIVE_PAGE = 20


def archive_page(before: str = "", size: int = ARCHIVE_PAGE) -> tuple[list[dict], str]:
    """Sent issues, newest first, `size` at a time, however many drafts lie between them.

    before: the issue id the previous page ended with. Returns the page and the id to continue
    from ("" on the last page)."""
    from boto3.dynamodb.conditions import Attr, Key

    kwargs = {"IndexName": "GSI1", "KeyConditionExpression": Key("GSI1PK").eq(keys.issues_index()),
              "ScanIndexForward": False,
              "FilterExpression": Attr("status").is_in(list(PUBLISHED)) & (
                  Attr("kind").not_exists() | Attr("kind").ne("announcement") | Attr("in_archive").eq(True))}
    if before:
        try:
            last = get(before)
        except NotFound:
            raise NotFound("There is no such page of the archive.") from None
        if not in_archive(last):
            raise NotFound("There is no such page of the archive.")
        kwargs["ExclusiveStartKey"] = {k: last[k] for k in ("PK", "SK", "GSI1PK", "GSI1SK")}
    found = []
    for item in dynamo.query_items(**kwargs):
        if len(found) == size:
            return found, found[-1]["issue_id"]
        found.append(item)
    return found, ""


def approve(issue_id: str, by: str) -> dict:
    issue = get(issue_id)
    if not issue.get("requires_approval"):
        raise Conflict("This issue does not need approval.")
    if issue.get("updated_by") == by:
        raise Conflict("Another coordinator must approve this issue: you made the last change.")
    if not dynamo.update_if(
            Key=keys.issue(issue_id), UpdateExpression="SET approved_by = :by, approved_at = :now",
            ConditionExpression="#s = :draft AND updated_at = :seen",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":by": by, ":now": clock.iso(), ":draft": "draft",
                                       ":seen": issue["updated_at"]}):
        raise Conflict("The issue changed while you were reading it. Please review it again.")
    return get(issue_id)


MAX_TEST_ADDRESSES = 5


def parse_test_addresses(raw, trusted: tuple[str, ...] = ()) -> list[str]:
    """Up to five addresses for a test send, one per line or separated by commas (or a JSON list).
    trusted: coordinators' own addresses, taken as they are."""
    import re


    parts = raw if isinstance(raw, list) else re.split(r"[\s,;]+", str(raw or ""))
    addresses = list(dict.fromkeys(str(p).strip() for p in parts if str(p).strip()))
    if not addresses:
        raise ValidationError({"test_to": "Enter at least one address to send the test to."})
    if len(addresses) > MAX_TEST_ADDRESSES:
        raise ValidationError({"test_to": f"Send a test to at most {MAX_TEST_ADDRESSES} addresses at a time."})
    normalised = []
    for address in addresses:
        if address.lower() in {t.lower() for t in trusted}:
            normalised.append(address)
            continue
        try:
            normalised.append(forms.email_address(address))
        except ValidationError:
            raise ValidationError({"test_to": f"“{address[:80]}” is not an email address. "
                                              "Put one address on each line."}) from None
    unique: dict[str, str] = {}
    for address in normalised:
        unique.setdefault(address.lower(), address)
    return list(unique.values())


def check_ready(issue: dict) -> None:
    if issue["requires_approval"] and not issue.get("approved_by"):
        raise Conflict("This issue needs a second coordinator's approval before it can be sent.")


def check_schedule(issue: dict, send_at_london: str) -> datetime:
    """The moment a draft may be scheduled for, or why it may not."""
    check_ready(issue)
    when = london_to_utc(send_at_london)
    if when <= clock.now():
        raise ValidationError({"send_at": "Choose a time in the future."})
    return when


def audience_of(issue: dict):
    """Who an issue goes to: the one chosen at its send, else its kind's own topic."""
    from chalicelib.audience import Audience

    if issue.get("audience"):
        return Audience.of(issue)
    return Audience(("events",)) if issue.get("kind") == "announcement" else Audience()


def schedule(issue_id: str, send_at_london: str, by: str, audience=None) -> dict:
    issue = get(issue_id)
    at = clock.iso(check_schedule(issue, send_at_london))
    index = keys.issue_schedule_index(at, issue_id)
    if not dynamo.update_if(
            Key=keys.issue(issue_id),
            UpdateExpression=("SET #s = :scheduled, scheduled_for = :at, scheduled_by = :by, GSI2PK = :pk, "
                              "GSI2SK = :sk, audience = :audience"),
            ConditionExpression="#s = :draft",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":scheduled": "scheduled", ":draft": "draft", ":at": at, ":by": by,
                                       ":pk": index["GSI2PK"], ":sk": index["GSI2SK"],
                                       ":audience": (audience or audience_of(issue)).as_item()}):
        raise Conflict("Only a draft can be scheduled.")
    return get(issue_id)


def cancel_schedule(issue_id: str, by: str) -> dict:
    if not dynamo.update_if(
            Key=keys.issue(issue_id),
            UpdateExpression="SET #s = :draft, cancelled_by = :by REMOVE scheduled_for, GSI2PK, GSI2SK",
            ConditionExpression="#s = :scheduled",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":draft": "draft", ":scheduled": "scheduled", ":by": by}):
        raise Conflict("This issue is not scheduled any more: it may already be sending.")
    return get(issue_id)


def slugify(title: str) -> str:
    """Words of a title as an address: "Spotlight on parents!" -> "spotlight-on-parents"."""
    import re
    import unicodedata

    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")[:60].rstrip("-") or "issue"


def claim_slug(issue: dict) -> str:
    """Give a sent issue its readable address, /archive/2026-12-spotlight-on-parents, once: the first
    free one of that name (-2, -3, ... after it), recorded on the issue. Old id addresses redirect to it."""
    if issue.get("slug"):
        return issue["slug"]
    base = f"{issue['date'][:7]}-{slugify(issue['title'])}"
    for n in range(1, 50):
        slug = base if n == 1 else f"{base}-{n}"
        if not dynamo.put_if(Item={**keys.issue_slug(slug), "issue_id": issue["issue_id"]},
                             ConditionExpression="attribute_not_exists(PK) OR issue_id = :id",
                             ExpressionAttributeValues={":id": issue["issue_id"]}):
            continue  # another issue's address
        aws.table().update_item(Key=keys.issue(issue["issue_id"]), UpdateExpression="SET slug = :slug",
                                ExpressionAttributeValues={":slug": slug})
        return slug
    return ""


def published(address: str) -> dict:
    """A sent issue by its readable address or its id."""
    item = aws.table().get_item(Key=keys.issue_slug(address[:80])).get("Item") if address else None
    issue = get(item["issue_id"]) if item else get(address[:80])
    if not in_archive(issue):
        raise NotFound("There is no such issue in the archive.")
    return issue


def archive_path(issue: dict) -> str:
    return f"/archive/{issue.get('slug') or issue['issue_id']}"
