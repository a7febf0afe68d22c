"""The coordinator's view of subscribers: a filtered page at a time, finding one person, their record."""
from __future__ import annotations

from dataclasses import dataclass
from itertools import islice

from chalicelib import aws, keys, subscriptions, tokens
from chalicelib.errors import InvalidToken, NotFound, ValidationError
from chalicelib.forms import clean_line

PAGE_SIZE = 25
# A filter that matches few people must not read the whole list for one page: after this many
# queries the page is shown short, with a link to carry on from where the reading stopped.
MAX_QUERIES_PER_PAGE = 10
MAX_REASON = 500
_BAD_CURSOR = "This list link is out of date. Start again from the first page."


@dataclass(frozen=True)
class Filter:
    status: str = "confirmed"
    topic: str = ""
    find: str = ""


@dataclass(frozen=True)
class Page:
    people: list[dict]
    next_cursor: str  # "" on the last page
    total: int  # everyone matching the filter, not just this page


def parse_filter(query: dict) -> Filter:
    status = str(query.get("status") or "confirmed")
    topic = str(query.get("topic") or "")
    errors = {}
    if status not in subscriptions.STATUSES:
        errors["status"] = "Choose a status from the list."
    if topic and topic not in subscriptions.TOPICS:
        errors["topic"] = "Choose a topic from the list."
    find = clean_line(query.get("find"))[:254]
    if errors:
        raise ValidationError(errors)
    return Filter(status, topic, find)


def page(chosen: Filter, cursor: str = "") -> Page:
    """One page of the people with this status (and topic), oldest sign-up first, read by GSI1 query
    pages: never the whole list. Or, with `find`, the person with that whole address or the people
    whose name starts so."""
    if chosen.find:
        people = _with_ids(find(chosen.find))
        return Page(people, "", len(people))
    from boto3.dynamodb.conditions import Attr, Key

    query: dict = {"IndexName": "GSI1",
                   "KeyConditionExpression": Key("GSI1PK").eq(keys.subscribers_by_status(chosen.status))}
    if chosen.topic:
        query["FilterExpression"] = Attr("topics").contains(chosen.topic)
    people: list[dict] = []
    page_size, start = PAGE_SIZE, _start_key(cursor)
    for _ in range(MAX_QUERIES_PER_PAGE):
        # Limit counts items read, not kept: reading no more than the page still lacks keeps the
        # cursor exact (nobody is skipped or shown twice).
        response = aws.table().query(Limit=page_size - len(people), **query,
                                     **({"ExclusiveStartKey": start} if start else {}))
        people.extend(response["Items"])
        start = response.get("LastEvaluatedKey")
        if not start or len(people) >= page_size:
            break
    total = aws.query_count(**query)
    return Page(_with_ids(people), tokens.sign("subscribers-page", start) if start else "", total)


def _with_ids(items: list[dict]) -> list[dict]:
    return [{**item, "sid": keys.subscriber_id(item)} for item in items]


def _start_key(cursor: str) -> dict | None:
    if not cursor:
        return None
    try:
        start = tokens.verify("subscribers-page", cursor)
    except InvalidToken as exc:
        raise InvalidToken(_BAD_CURSOR) from exc
    if not isinstance(start, dict) or not all(isinstance(v, str) for v in start.values()):
        raise InvalidToken(_BAD_CURSOR)
    return start


def find(text: str) -> list[dict]:
    """A whole address finds its one person; anything else is the start of a name. Part of an address
    ("@gmail.com") finds nobody: addresses are never listed by pattern."""
    text = text.strip()
    if "@" in text:
        try:
            email = subscriptions.normalise_email(text)
        except ValidationError as exc:
            raise ValidationError({"find": "Enter a whole email address (name@example.org) or the start of "
                                           "a name. Addresses cannot be searched by part."}) from exc
        item = subscriptions.load(subscriptions.email_id(email))
        return [item] if item else []
    prefix = keys.name_key(text)
    if not prefix:
        return []
    from boto3.dynamodb.conditions import Key

    return list(islice(aws.query_items(IndexName="GSI2", Limit=PAGE_SIZE, KeyConditionExpression=(
        Key("GSI2PK").eq(keys.subscribers_by_name()) & Key("GSI2SK").begins_with(prefix))), PAGE_SIZE))


def person(sid: str) -> dict:
    """One subscriber as the coordinator's page shows them: their item, suppression and consent wording."""
    item = subscriptions.load(sid) if _well_formed(sid) else None
    if not item:
        raise NotFound("We hold no data for this person. They may have been erased.")
    return {**item, "sid": sid, "suppression": subscriptions.suppression_of(sid),
            "consent_wording": subscriptions.CONSENT_WORDING.get(item["consent"]["wording_version"], "")}


def _well_formed(sid: str) -> bool:
    return 0 < len(sid) <= 64 and sid.isascii() and sid.isalnum()


def parse_reason(data: dict) -> str:
    reason = clean_line(data.get("reason"))
    if not reason:
        raise ValidationError({"reason": "Write why, for example \"asked by phone on 3 March\"."})
    if len(reason) > MAX_REASON:
        raise ValidationError({"reason": f"Use at most {MAX_REASON} characters."})
    return reason
