"""Bringing a coordinator's existing list in from a CSV: the columns, the checks of every row, the
consent basis, and the queued work that checks and then imports a file without holding it in memory."""
from __future__ import annotations

import codecs
import csv
import io
import json
import re
import tempfile
import uuid
import dataclasses
from dataclasses import dataclass
from datetime import date
from typing import Callable, Iterator

from chalicelib import aws, clock, dynamo, forms, keys, spreadsheet, subscriptions
from chalicelib.errors import Conflict, NotFound, PayloadTooLarge, ValidationError
from chalicelib.forms import clean_line, str_list, strip_controls, ticked
from chalicelib.models import Field, Model
from chalicelib.observability import logger
from chalicelib.pacing import Pacer
from chalicelib.settings import get_settings

# Below what one request can carry to Lambda: API Gateway takes 10 MB, but a Lambda invocation takes
# 6 MB and a multipart upload reaches it base64-encoded (4/3 larger). 4 MB is about 60,000 rows.
MAX_FILE_BYTES = 4 * 1024 * 1024
TOO_LARGE = ("That file is larger than 4 MB, the most one upload can take (about 60,000 rows). "
             "Split it into smaller files and import them one after another. Nothing was imported.")
FIELDS = {
    "email": "Email address",
    "name": "Name",
    "topics": "Topics",
    "tags": "Tags",
    "consent_date": "Consent date",
    "source": "Source",
}
_GUESSES = {
    "email": ("email", "e-mail", "email address", "e-mail address", "emailaddress", "mail", "address"),
    "name": ("first name", "firstname", "first_name", "forename", "given name", "name", "full name",
             "fname", "first"),
    "topics": ("topics", "topic", "interests", "lists", "list", "subscriptions"),
    "tags": ("tags", "tag", "groups", "group", "labels", "segments"),
    "consent_date": ("consent date", "consent_date", "consented", "consented at", "opt-in date", "optin date",
                     "date subscribed", "subscribed", "signed up", "joined", "date"),
    "source": ("source", "consent source", "where", "how", "origin", "signup source"),
}
BASES = {
    "re-permission": "Re-permission: each person is sent the confirmation email and mailed nothing else "
                     "until they confirm",
    "evidence": "Imported with evidence: they already agreed, and you can say where, when and to what wording",
    "soft-opt-in": "Charitable soft opt-in (UK PECR, from 5 February 2026)",
}
BASIS_LABELS = {"re-permission": "Re-permission", "evidence": "Imported with evidence",
                "soft-opt-in": "Charitable soft opt-in", "signed-up": "Signed up themselves"}
# The conditions PECR sets for the charitable soft opt-in, as the coordinator affirms them.
SOFT_OPT_IN_CONDITIONS = {
    "soft_interest": "They gave their details to us while expressing an interest in, or supporting, our "
                     "charitable purposes.",
    "soft_opt_out_then": "They were offered a simple way to refuse our emails when their details were collected, "
                         "and did not refuse.",
    "soft_opt_out_always": "We will only email them about our charitable purposes, and every email offers a "
                           "simple way to opt out (PeerPost puts an unsubscribe link in every email).",
}
# Soft opt-in people hear only about the charity's own purposes: the newsletter and announcements.
SOFT_OPT_IN_TOPICS = ("newsletter", "events")
_TOPIC_WORDS = {"newsletter": "newsletter", "peertalk": "newsletter", "#peertalk": "newsletter",
                "events": "events", "event": "events", "announcements": "events", "training": "events"}
MAX_SOURCE = 200
MAX_WORDING = 2000
PREVIEW_ROWS = 5
REPORT_ROWS_SHOWN = 50
CHUNK = 100  # rows read from the table (BatchGetItem) and recorded as progress at a time
JOB_DAYS = 7
STATES = ("uploaded", "checking", "checked", "importing", "done")

OUTCOMES = {  # outcome -> (before the import, after it)
    "confirm": ("Will be sent the confirmation email", "Sent the confirmation email"),
    "add": ("Will be added as confirmed, with your evidence", "Added as confirmed, with your evidence"),
    "soft": ("Will be added under the charitable soft opt-in", "Added under the charitable soft opt-in"),
}
_FORMULA = re.compile(r"[=+@\t\r]|-[^A-Za-z\s]")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")

IMPORT_MODEL = Model("SubscriberImport", (
    Field("csv", required=True, max_length=MAX_FILE_BYTES, description="The CSV file's text, UTF-8, with a header row"),
    Field("basis", required=True, enum=tuple(BASES), description="The consent basis every imported person gets"),
    Field("email_column", max_length=200, description="The header of the address column (guessed if left out)"),
    Field("name_column", max_length=200),
    Field("topics_column", max_length=200),
    Field("tags_column", max_length=200),
    Field("consent_date_column", max_length=200),
    Field("source_column", max_length=200),
    Field("topics", "array", max_length=2, enum=tuple(subscriptions.TOPICS),
          description="Topics for rows with no topics column"),
    Field("evidence_source", max_length=MAX_SOURCE, description="evidence / soft-opt-in: where the details came from"),
    Field("evidence_date", max_length=10, description="evidence: when they agreed (YYYY-MM-DD)"),
    Field("evidence_wording", max_length=MAX_WORDING, description="evidence: the wording they agreed to"),
    Field("soft_interest", "boolean"), Field("soft_opt_out_then", "boolean"), Field("soft_opt_out_always", "boolean"),
    Field("submission", max_length=64, description="An id for this import: sent twice, it acts once"),
))


@dataclass(frozen=True)
class Checked:
    row: int  # as a spreadsheet numbers it: the header is row 1
    email: str
    name: str
    outcome: str  # one of OUTCOMES, or "skip"
    reason: str  # why it is skipped ("" when it is not)
    sid: str = ""
    topics: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    consent_date: str = ""
    source: str = ""
    written: bool = False  # this import wrote the person already (an earlier attempt at the same job)
    mailed: bool = False  # ... and their re-permission confirmation went out


# ---- the file ---------------------------------------------------------------------------------------

def decode(data: bytes) -> str:
    if len(data) > MAX_FILE_BYTES:
        raise PayloadTooLarge(TOO_LARGE)
    if not data.strip():
        raise ValidationError({"file": "Choose a CSV file: this one is empty."})
    if b"\x00" in data or data[:4] == b"PK\x03\x04":
        raise ValidationError({"file": "This looks like a spreadsheet (.xlsx) or another kind of file, not CSV. "
                                       "In your spreadsheet choose Save As, then \"CSV UTF-8\", and upload that."})
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationError({"file": f"This file is not UTF-8 text (the first problem is at byte {exc.start}). "
                                       "In your spreadsheet choose Save As, then \"CSV UTF-8\", and upload that. "
                                       "Nothing was imported."}) from exc


def read_header(text: str) -> tuple[list[str], int]:
    """The header and how many data rows follow, or a ValidationError saying why the file cannot be read."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, [])
        rows = sum(1 for row in reader if row)
    except csv.Error as exc:
        raise ValidationError({"file": f"This file is not valid CSV near row {reader.line_num}. Check that quotes "
                                       "are closed, and save it again as \"CSV UTF-8\"."}) from exc
    header = [clean_line(h)[:200] for h in header]
    if not any(header):
        raise ValidationError({"file": "The first row must name the columns (for example \"email\", \"name\")."})
    if rows == 0:
        raise ValidationError({"file": "The file has a header row but no people under it."})
    return header, rows


def guess_mapping(header: list[str], sample: list[list[str]] | None = None) -> dict[str, int]:
    """Which column holds each field, guessed from the header (and, for the address, the first rows)."""
    names = [" ".join(h.casefold().replace("_", " ").split()) for h in header]
    mapping: dict[str, int] = {}
    taken: set[int] = set()
    for field, guesses in _GUESSES.items():
        for guess in guesses:
            hits = [i for i, n in enumerate(names) if i not in taken and (n == guess or (len(guess) > 4 and guess in n))]
            if hits:
                mapping[field] = hits[0]
                taken.add(hits[0])
                break
    if "email" not in mapping and sample:
        for i in range(len(header)):
            if i not in taken and any("@" in (row[i] if i < len(row) else "") for row in sample):
                mapping["email"] = i
                break
    return mapping


def _bucket() -> str:
    return get_settings().media_bucket


def _upload_key(job_id: str) -> str:
    return f"imports/{job_id}/upload.csv"


def _report_key(job_id: str) -> str:
    return f"imports/{job_id}/report.csv"


def upload(data: bytes, filename: str, by: str, submission: str = "") -> str:
    """Keep an uploaded CSV where the worker can read it and start an import job; returns its id. The
    same form sent twice (a double click) is the same job."""
    text = decode(data)
    header, rows = read_header(text)
    job_id = submission or uuid.uuid4().hex
    if load(job_id, missing_ok=True):
        return job_id
    sample = list(_rows_of(io.StringIO(text, newline=""), PREVIEW_ROWS))
    aws.s3().put_object(Bucket=_bucket(), Key=_upload_key(job_id), Body=text.encode("utf-8"),
                        ContentType="text/csv", ServerSideEncryption="AES256")
    now = clock.now()
    dynamo.put_if_new({
        **keys.import_job(job_id), "job_id": job_id, "state": "uploaded", "by": by,
        "created_at": clock.iso(now), "filename": clean_line(filename)[:120], "header": header,
        "rows": rows, "mapping": guess_mapping(header, sample), "rows_done": 0, "outcome_counts": {},
        "expires_at": int(now.timestamp()) + JOB_DAYS * 86400,
    })
    logger().info("import uploaded", extra={"rows": rows})
    return job_id


def _rows_of(stream, limit: int | None = None) -> Iterator[list[str]]:
    reader = csv.reader(stream, strict=True)
    next(reader, None)
    n = 0
    for row in reader:
        if not row:  # a blank line, which csv gives as no cells at all
            continue
        if limit is not None and n >= limit:
            return
        n += 1
        yield row


def _stream(job_id: str) -> Iterator[list[str]]:
    """The uploaded file's data rows, read from S3 a piece at a time."""
    body = aws.s3().get_object(Bucket=_bucket(), Key=_upload_key(job_id))["Body"]
    text = codecs.getreader("utf-8")(body)
    yield from _rows_of(_Lines(text))


class _Lines:
    """Lines of a text stream, as csv.reader takes them (it wants an iterator of lines)."""

    def __init__(self, text) -> None:
        self._text, self._rest = text, ""

    def __iter__(self):
        while True:
            piece = self._text.read(64 * 1024)
            if not piece:
                if self._rest:
                    yield self._rest
                return
            lines = (self._rest + piece).splitlines(keepends=True)
            self._rest = lines.pop() if not lines[-1].endswith(("\n", "\r")) else ""
            # a lone "\r" at the end of a piece may be the first half of "\r\n": keep it for the next
            if lines and lines[-1].endswith("\r"):
                self._rest = lines.pop() + self._rest
            yield from lines


def preview(job: dict) -> list[list[str]]:
    rows = []
    for row in _stream(job["job_id"]):
        rows.append([clean_line(cell)[:80] for cell in row])
        if len(rows) >= PREVIEW_ROWS:
            break
    return rows


def load(job_id: str, missing_ok: bool = False) -> dict | None:
    job = None
    if 0 < len(job_id) <= 64 and job_id.isascii() and job_id.replace("-", "").replace("_", "").isalnum():
        job = aws.table().get_item(Key=keys.import_job(job_id)).get("Item")
    if job is None and not missing_ok:
        raise NotFound("There is no such import. Imports are kept for 7 days; start a new one.")
    return job


# ---- the coordinator's choices ---------------------------------------------------------------------

def parse_choices(job: dict, data: dict) -> dict:
    """The mapping, the basis and what the coordinator states for it, from the mapping form or the API."""
    header = job["header"]
    errors: dict[str, str] = {}
    mapping: dict[str, int] = {}
    for field in FIELDS:
        raw = data.get(f"{field}_column")
        if raw in (None, ""):
            continue
        raw = str(raw)
        if raw.lstrip("-").isdigit() and 0 <= int(raw) < len(header):
            mapping[field] = int(raw)
        elif raw in header:
            mapping[field] = header.index(raw)
        else:
            errors[f"{field}_column"] = "Choose one of the file's columns."
    if "email" not in mapping and "email_column" not in errors:
        errors["email_column"] = ("Choose the column that holds the email addresses. A file with no "
                                  "addresses cannot be imported.")
    used = [c for c in mapping.values()]
    if len(used) != len(set(used)):
        errors["mapping"] = "Each column can be used for one thing only."
    basis = str(data.get("basis") or "re-permission")
    if basis not in BASES:
        errors["basis"] = "Choose a basis from the list."
    topics = list(dict.fromkeys(str_list(data.get("topics"))))
    if any(t not in subscriptions.TOPICS for t in topics):
        errors["topics"] = "Choose from the topics listed."
    elif not topics and "topics" not in mapping:
        errors["topics"] = "Choose at least one topic, or a column that holds them."
    choices = {"mapping": mapping, "basis": basis, "topics": topics}
    source = clean_line(data.get("evidence_source"))
    if basis in ("evidence", "soft-opt-in"):
        if not source and "source" not in mapping:
            errors["evidence_source"] = ("Say where the details came from, for example \"sign-up sheet at the "
                                         "2025 conference\".")
        elif len(source) > MAX_SOURCE:
            errors["evidence_source"] = f"Use at most {MAX_SOURCE} characters."
        choices["source"] = source
    if basis == "evidence":
        when = str(data.get("evidence_date") or "").strip()
        wording = " ".join(str(data.get("evidence_wording") or "").split())
        if when:
            try:
                choices["date"] = _date(when)
            except ValueError:
                errors["evidence_date"] = "Enter the date as YYYY-MM-DD, for example 2025-03-14."
        elif "consent_date" not in mapping:
            errors["evidence_date"] = "Enter when they agreed, or choose the column that holds each date."
        if not wording:
            errors["evidence_wording"] = "Paste the wording they agreed to, as it was shown to them."
        elif len(wording) > MAX_WORDING:
            errors["evidence_wording"] = f"Use at most {MAX_WORDING} characters."
        choices["wording"] = wording
    if basis == "soft-opt-in":
        missing = [k for k in SOFT_OPT_IN_CONDITIONS if not ticked(data.get(k))]
        if missing:
            errors["soft"] = ("The soft opt-in applies only if all three are true. Tick each one you can affirm, "
                              "or choose re-permission.")
        choices["conditions"] = [SOFT_OPT_IN_CONDITIONS[k] for k in SOFT_OPT_IN_CONDITIONS]
        if "events" not in topics and "newsletter" not in topics and topics:
            errors["topics"] = "Soft opt-in people may only get the newsletter and announcements."
    if errors:
        raise ValidationError(errors)
    return choices


def _date(text: str) -> str:
    text = text.strip()
    for parse in (date.fromisoformat, lambda t: date(int(t[6:10]), int(t[3:5]), int(t[0:2]))):
        try:
            day = parse(text[:10])
        except (ValueError, IndexError):
            continue
        if day > clock.now().date():
            raise ValueError("in the future")
        return day.isoformat()
    raise ValueError(text)


def choose(job_id: str, data: dict) -> dict:
    """Save the coordinator's choices and queue the check of every row. Allowed until the import starts."""
    job = load(job_id)
    if job["state"] in ("importing", "done"):
        raise Conflict("This import has already started; its choices can no longer change.")
    choices = parse_choices(job, data)
    version = int(job.get("choices_version", 0)) + 1
    if not dynamo.update_if(
        Key=keys.import_job(job_id),
        UpdateExpression="SET #s = :checking, choices = :c, mapping = :m, choices_version = :v, rows_done = :zero, "
                         "outcome_counts = :none",
        ConditionExpression="#s IN (:uploaded, :checking, :checked)",
        ExpressionAttributeNames={"#s": "state"},
        ExpressionAttributeValues={":checking": "checking", ":c": choices, ":m": choices["mapping"],
                                   ":v": version, ":zero": 0, ":none": {}, ":uploaded": "uploaded",
                                   ":checked": "checked"}):
        raise Conflict("This import has already started; its choices can no longer change.")
    _queue({"job": job_id, "phase": "check", "version": version})
    return load(job_id)


def start(job_id: str, version: int) -> bool:
    """The coordinator confirms: queue the import. Once only: True the first time, for the version checked."""
    if not dynamo.update_if(
        Key=keys.import_job(job_id),
        UpdateExpression="SET #s = :importing, rows_done = :zero, started_at = :now",
        ConditionExpression="#s = :checked AND choices_version = :v",
        ExpressionAttributeNames={"#s": "state"},
        ExpressionAttributeValues={":importing": "importing", ":checked": "checked", ":v": version,
                                   ":zero": 0, ":now": clock.iso()}):
        return False
    _queue({"job": job_id, "phase": "import", "version": version})
    return True


def _queue(body: dict) -> None:
    aws.sqs().send_message(QueueUrl=aws.queue_url(get_settings().import_queue), MessageBody=json.dumps(body))


# ---- checking every row ----------------------------------------------------------------------------

def _cell(row: list[str], mapping: dict, field: str) -> str:
    index = mapping.get(field)
    return row[int(index)] if index is not None and int(index) < len(row) else ""


def _problem(value: str) -> str:
    if _CONTROL.search(value):
        return "contains control characters"
    if _FORMULA.match(value):
        return "looks like a spreadsheet formula"
    return ""


def _parse_row(number: int, row: list[str], choices: dict, known_tags: dict[str, str]) -> Checked:
    mapping = {k: int(v) for k, v in choices["mapping"].items()}
    raw = {field: _cell(row, mapping, field) for field in FIELDS}
    email_raw = raw["email"].strip()
    if not any(cell.strip() for cell in row):
        return Checked(number, "", "", "skip", "empty row")
    for field, value in raw.items():
        problem = _problem(value)
        if problem:
            return Checked(number, strip_controls(email_raw), strip_controls(raw["name"]), "skip",
                           f"{FIELDS[field]} {problem}")
    try:
        email = forms.email_address(email_raw)
    except ValidationError:
        return Checked(number, email_raw, raw["name"], "skip", "invalid address" if email_raw else "no address")
    name = clean_line(raw["name"])
    if len(name) > subscriptions.MAX_NAME:
        return Checked(number, email, "", "skip", f"name longer than {subscriptions.MAX_NAME} characters")
    topics = tuple(choices["topics"])
    if "topics" in mapping:
        words = [w.casefold() for w in re.split(r"[;,|/]+|\s+", raw["topics"]) if w]
        found = tuple(dict.fromkeys(_TOPIC_WORDS.get(w, "?") for w in words))
        if "?" in found:
            return Checked(number, email, name, "skip", "unknown topic (use newsletter or announcements)")
        topics = found or topics
    if choices["basis"] == "soft-opt-in":
        topics = tuple(t for t in topics if t in SOFT_OPT_IN_TOPICS)
    if not topics:
        return Checked(number, email, name, "skip", "no topics")
    tags: tuple[str, ...] = ()
    if "tags" in mapping:
        named = [t.casefold() for t in (clean_line(t) for t in re.split(r"[;,|]+", raw["tags"])) if t]
        if any(t not in known_tags for t in named):
            return Checked(number, email, name, "skip", "a tag that is not in the tag list (add it on the Tags page)")
        tags = tuple(dict.fromkeys(known_tags[t] for t in named))  # people hold tag ids, not names
    consent_date = choices.get("date", "")
    if "consent_date" in mapping and raw["consent_date"].strip():
        try:
            consent_date = _date(raw["consent_date"])
        except ValueError:
            return Checked(number, email, name, "skip", "consent date is not a date (use YYYY-MM-DD)")
    if choices["basis"] == "evidence" and not consent_date:
        return Checked(number, email, name, "skip", "no consent date")
    source = clean_line(raw["source"])[:MAX_SOURCE] or choices.get("source", "")
    if choices["basis"] != "re-permission" and not source:
        return Checked(number, email, name, "skip", "no source")
    outcome = {"re-permission": "confirm", "evidence": "add", "soft-opt-in": "soft"}[choices["basis"]]
    return Checked(number, email, name, outcome, "", subscriptions.email_id(email), topics, tags,
                   consent_date, source)


_SUPPRESSED = {"bounce": "suppressed: the address bounced", "complaint": "suppressed: they complained",
               "erased": "suppressed: they asked to be erased"}
_EXISTING = {"confirmed": "already subscribed", "pending": "already waiting to confirm",
             "unsubscribed": "previously unsubscribed"}


def check_rows(job: dict) -> Iterator[Checked]:
    """Every row's outcome, against the table as it is now: read CHUNK rows at a time (BatchGetItem of
    their subscriber and suppression items), so memory holds one chunk and the set of addresses seen."""
    choices = job["choices"]
    known_tags = _tags()
    seen: dict[str, int] = {}
    chunk: list[Checked] = []
    for number, row in enumerate(_stream(job["job_id"]), start=2):
        checked = _parse_row(number, row, choices, known_tags)
        if checked.sid:
            if checked.sid in seen:
                checked = Checked(number, checked.email, checked.name, "skip",
                                  f"duplicate in file (first on row {seen[checked.sid]})")
            else:
                seen[checked.sid] = number
        chunk.append(checked)
        if len(chunk) >= CHUNK:
            yield from _against_table(chunk, job["job_id"])
            chunk = []
    yield from _against_table(chunk, job["job_id"])


def _against_table(chunk: list[Checked], job_id: str) -> list[Checked]:
    sids = [c.sid for c in chunk if c.sid]
    if not sids:
        return chunk
    wanted = [keys.subscriber(s) for s in sids] + [keys.suppression(s) for s in sids]
    found = dynamo.batch_get(aws.table().meta.client, get_settings().table_name, wanted,
                          ProjectionExpression="PK, #s, reason, consent.import_id, confirmation_sent_at",
                          ExpressionAttributeNames={"#s": "status"})
    held = {item["PK"]: item for item in found}
    out = []
    for c in chunk:
        if c.sid:
            suppressed = held.get(keys.suppression(c.sid)["PK"])
            existing = held.get(keys.subscriber(c.sid)["PK"])
            if existing and (existing.get("consent") or {}).get("import_id") == job_id:
                # Written by this very import before its message came back (a timeout, SES refusing):
                # it keeps its outcome, and the confirmation goes out if it had not yet.
                c = dataclasses.replace(c, written=True, mailed="confirmation_sent_at" in existing)
            elif suppressed:
                c = _skipped(c, _SUPPRESSED.get(str(suppressed.get("reason")), "suppressed"))
            elif existing:
                c = _skipped(c, _EXISTING.get(str(existing.get("status")), "already on the list"))
        out.append(c)
    return out


def _skipped(c: Checked, reason: str) -> Checked:
    return Checked(c.row, c.email, c.name, "skip", reason)


def _tags() -> dict[str, str]:
    """The coordinators' tags by name, case-folded, to their ids."""
    from chalicelib import audience

    return {name.casefold(): tag_id for tag_id, name in audience.tag_names().items()}


# ---- the worker ------------------------------------------------------------------------------------

def handle(event: dict, context) -> dict:
    """The imports queue: one message checks or imports one whole file."""
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    remaining = getattr(context, "get_remaining_time_in_millis", lambda: 900_000)

    def one(record) -> None:
        body = json.loads(record.body)
        run(body["job"], body["phase"], int(body["version"]), remaining)

    processor = BatchProcessor(EventType.SQS, raise_on_entire_batch_failure=False)
    return process_partial_response(event=event, record_handler=one, processor=processor, context=context)


# An import stops this long before the function's timeout and queues itself again to go on: the next
# run reads the file from the start, finds whom it wrote already, and mails only those not yet mailed.
MARGIN_MS = 60_000


def run(job_id: str, phase: str, version: int, remaining: Callable[[], int] = lambda: 900_000) -> None:
    job = load(job_id, missing_ok=True)
    wanted = {"check": "checking", "import": "importing"}[phase]
    if not job or job["state"] != wanted or int(job.get("choices_version", 0)) != version:
        return  # done already (SQS delivered twice), or the choices changed since: a newer message follows
    counts: dict[str, int] = {}
    processed = 0
    with tempfile.TemporaryFile("w+b") as stored:  # the report is written to disk and sent from there
        report = io.TextIOWrapper(stored, encoding="utf-8", newline="")
        writer = spreadsheet.SafeWriter(report)
        writer.writerow(["row", "email", "name", "outcome", "reason"])
        pending: list[Checked] = []
        for checked in check_rows(job):
            if phase == "import" and checked.outcome != "skip":
                pending.append(checked)
                if len(pending) >= CHUNK:
                    _import(job, pending)
                    pending = []
                    if remaining() < MARGIN_MS:
                        _queue({"job": job_id, "phase": phase, "version": version})
                        logger().info("import goes on in a fresh run", extra={"rows": processed})
                        return
            processed += 1
            label = checked.reason if checked.outcome == "skip" else OUTCOMES[checked.outcome][phase == "import"]
            key = checked.outcome if checked.outcome != "skip" else "skip:" + checked.reason.split(" (")[0]
            counts[key] = counts.get(key, 0) + 1
            writer.writerow([checked.row, checked.email, checked.name,
                             "skipped" if checked.outcome == "skip" else checked.outcome, label])
            if processed % CHUNK == 0:
                _progress(job_id, version, processed)
        if pending:
            _import(job, pending)
        report.flush()
        stored.seek(0)
        aws.s3().put_object(Bucket=_bucket(), Key=_report_key(job_id), Body=stored,
                            ContentType="text/csv", ServerSideEncryption="AES256")
    done = {"check": "checked", "import": "done"}[phase]
    aws.table().update_item(
        Key=keys.import_job(job_id),
        UpdateExpression="SET #s = :done, rows_done = :n, outcome_counts = :c, finished_at = :now",
        ConditionExpression="choices_version = :v", ExpressionAttributeNames={"#s": "state"},
        ExpressionAttributeValues={":done": done, ":n": processed, ":c": counts, ":v": version,
                                   ":now": clock.iso()})
    if phase == "import":  # the upload is no longer needed; the report stays until the bucket's rule expires it
        aws.s3().delete_object(Bucket=_bucket(), Key=_upload_key(job_id))
    logger().info("import " + done, extra={"rows": processed, "counts": counts})


def _progress(job_id: str, version: int, processed: int) -> None:
    aws.table().update_item(Key=keys.import_job(job_id), UpdateExpression="SET rows_done = :n",
                            ConditionExpression="choices_version = :v",
                            ExpressionAttributeValues={":n": processed, ":v": version})


def _import(job: dict, people: list[Checked]) -> None:
    """Write each person (only if nobody holds the address by now) and, for re-permission, send the
    confirmation email through the normal path. A person written is never written or mailed again."""
    choices, table = job["choices"], aws.table()
    settings = get_settings()
    now = clock.now()
    at = clock.iso(now)
    for person in people:
        if person.written:
            if not person.mailed and choices["basis"] == "re-permission":
                _confirm(job, person.sid)
            continue
        basis = choices["basis"]
        confirmed = basis != "re-permission"
        consent = {
            "wording_version": subscriptions.CONSENT_VERSION if not confirmed else f"import-{basis}",
            "method": "import", "basis": basis, "import_id": job["job_id"], "by": job["by"],
            "given_at": person.consent_date or at, "confirmed_at": at if confirmed else None, "withdrawn_at": None,
            **({"source": person.source} if person.source else {}),
            **({"wording": choices["wording"]} if basis == "evidence" else {}),
            **({"conditions": choices["conditions"]} if basis == "soft-opt-in" else {}),
        }
        status = "confirmed" if confirmed else "pending"
        item = {
            **keys.subscriber(person.sid),
            **keys.subscriber_index(status, at, person.sid),
            **(keys.subscriber_name_index(person.name, person.sid) if person.name else {}),
            "email": person.email, "first_name": person.name, "topics": list(person.topics), "status": status,
            "basis": basis, "created_at": at, "consent": consent,
            "consent_history": [{"event": "imported", "at": at, **consent}], "soft_bounces": 0,
            "link_nonce": uuid.uuid4().hex,
            **({"confirmed_at": at} if confirmed else
               {"expires_at": int(now.timestamp()) + settings.pending_expiry_hours * 3600}),
            **({"tags": set(person.tags)} if person.tags else {}),
        }
        if not dynamo.put_if_new(item, table):
            continue  # someone holds the address by now
        if not confirmed:
            _confirm(job, person.sid)


def _confirm(job: dict, sid: str) -> None:
    """Send one imported person their confirmation: at most once (claimed first, with a condition), and
    at least once (the claim is given back if SES does not take it, and the import's message retried).
    Paced to the SES quota, which a whole list sent at once would exceed many times over."""
    table = aws.table()
    item = dynamo.update_returning(
        table, Key=keys.subscriber(sid), UpdateExpression="SET confirmation_sent_at = :now",
        ConditionExpression="consent.import_id = :job AND #s = :pending AND attribute_not_exists(confirmation_sent_at)",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":now": clock.iso(), ":job": job["job_id"], ":pending": "pending"},
        ReturnValues="ALL_NEW")
    if item is None:
        return  # sent already, or they confirmed, left or were erased meanwhile
    pacer.wait()
    try:
        subscriptions.send_confirmation(item)
    except Exception:
        table.update_item(Key=keys.subscriber(sid), UpdateExpression="REMOVE confirmation_sent_at")
        raise


pacer = Pacer(senders=lambda settings: 1)  # one import at a time takes the quota; SES throttling is retried


# ---- what the pages show ---------------------------------------------------------------------------

def summary(job: dict) -> dict:
    """Counts for the confirmation and result pages: how many get each outcome, and the skips by reason."""
    counts = {k: int(v) for k, v in (job.get("outcome_counts") or {}).items()}
    skipped = {k.removeprefix("skip:"): v for k, v in counts.items() if k.startswith("skip:")}
    return {"confirm": counts.get("confirm", 0), "add": counts.get("add", 0), "soft": counts.get("soft", 0),
            "skipped": sum(skipped.values()), "reasons": sorted(skipped.items(), key=lambda kv: -kv[1])}


def report_csv(job_id: str) -> str:
    load(job_id)
    try:
        body = aws.s3().get_object(Bucket=_bucket(), Key=_report_key(job_id))["Body"].read()
    except aws.s3().exceptions.NoSuchKey as exc:
        raise NotFound("The report is not ready yet, or has expired.") from exc
    return body.decode("utf-8")


def report_rows(job_id: str, limit: int = REPORT_ROWS_SHOWN, skipped_only: bool = False) -> list[dict]:
    """The first rows of the report for the page (the download has them all)."""
    try:
        text = report_csv(job_id)
    except NotFound:
        return []
    rows = []
    for row in csv.DictReader(io.StringIO(text, newline="")):
        if skipped_only and row["outcome"] != "skipped":
            continue
        rows.append(row)
        if len(rows) >= limit:
            break
    return rows


def run_from_api(data: dict, by: str) -> dict:
    """The JSON API: upload, choose and check in one request (the import itself is a second request)."""
    text = data.get("csv")
    if not isinstance(text, str):
        raise ValidationError({"csv": "Send the CSV file's text."})
    job_id = upload(text.encode("utf-8"), "api.csv", by, subscriptions.submission_of(data))
    job = load(job_id)
    if job["state"] == "uploaded":  # columns not named are the guessed ones
        guessed = {f"{field}_column": str(index) for field, index in job["mapping"].items()}
        job = choose(job_id, {**guessed, **{k: v for k, v in data.items() if v not in (None, "")}})
    return job
