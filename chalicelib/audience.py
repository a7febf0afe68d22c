"""The coordinator's view of subscribers: a filtered page at a time, finding one person, their record."""
from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from itertools import islice

from chalicelib import aws, keys, subscriptions, tokens
from chalicelib.errors import InvalidToken, NotFound, ValidationError
from chalicelib.forms import clean_line

PAGE_SIZE = 25
# A filter that matches few people must not read the whole list for one page: after this many
# queries the page is shown short, with a link to carry on from where the reading stopped.
MAX_QUERIES_PER_PAGE = 10
MAX_REASON = 500
MAX_TAG = 40
MAX_TAGS = 50
# Filter by basis (chalicelib/imports.py sets it on everyone it imports).
BASES = {"signed-up": "Signed up themselves", "re-permission": "Imported: re-permission",
         "evidence": "Imported with evidence", "soft-opt-in": "Charitable soft opt-in"}
_BAD_CURSOR = "This list link is out of date. Start again from the first page."


@dataclass(frozen=True)
class Filter:
    status: str = "confirmed"
    topic: str = ""
    tag: str = ""
    find: str = ""
    basis: str = ""  # how they came onto the list: an import's basis, or "signed-up" (by themselves)


@dataclass(frozen=True)
class Page:
    people: list[dict]
    next_cursor: str  # "" on the last page
    total: int  # everyone matching the filter, not just this page


def parse_filter(query: dict) -> Filter:
    status = str(query.get("status") or "confirmed")
    topic = str(query.get("topic") or "")
    tag = str(query.get("tag") or "")
    errors = {}
    if status not in subscriptions.STATUSES:
        errors["status"] = "Choose a status from the list."
    if topic and topic not in subscriptions.TOPICS:
        errors["topic"] = "Choose a topic from the list."
    if tag and tag not in tags():
        errors["tag"] = "Choose a tag from the list."
    find = clean_line(query.get("find"))[:254]
    basis = str(query.get("basis") or "")
    if basis and basis not in BASES:
        errors["basis"] = "Choose a basis from the list."
    if errors:
        raise ValidationError(errors)
    return Filter(status, topic, tag, find, basis)


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
    wanted = [Attr("topics").contains(chosen.topic)] if chosen.topic else []
    wanted += [Attr("tags").contains(chosen.tag)] if chosen.tag else []
    if chosen.basis:  # people who signed up themselves carry no basis
        wanted.append(Attr("basis").not_exists() if chosen.basis == "signed-up" else Attr("basis").eq(chosen.basis))
    if wanted:
        query["FilterExpression"] = functools.reduce(lambda a, b: a & b, wanted)
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


def tags() -> list[str]:
    """The tags coordinators have made, in alphabetical order."""
    item = aws.table().get_item(Key=keys.tags()).get("Item") or {}
    return sorted(item.get("tag_names", set()), key=str.casefold)


def parse_tag(data: dict) -> str:
    name = clean_line(data.get("tag"))
    if not name:
        raise ValidationError({"tag": "Enter a tag, for example \"peer worker\"."})
    if len(name) > MAX_TAG:
        raise ValidationError({"tag": f"Use at most {MAX_TAG} characters."})
    return name


def define_tag(name: str) -> bool:
    """Add a tag to the set coordinators choose from; False if it is there already."""
    from botocore.exceptions import ClientError

    if name in tags():
        return False
    try:  # the limit holds under two coordinators adding at once: a condition, not the read above
        aws.table().update_item(
            Key=keys.tags(), UpdateExpression="ADD tag_names :n",
            ConditionExpression="attribute_not_exists(tag_names) OR size(tag_names) < :max",
            ExpressionAttributeValues={":n": {name}, ":max": MAX_TAGS})
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            raise ValidationError({"tag": f"There are already {MAX_TAGS} tags. Use one of them."}) from exc
        raise
    return True


def tag_person(sid: str, name: str, add: bool) -> None:
    """Add a defined tag to a person, or take one off. Doing it twice is the same as once."""
    from botocore.exceptions import ClientError

    if name not in tags():
        raise ValidationError({"tag": "Choose a tag from the list."})
    try:
        aws.table().update_item(Key=keys.subscriber(sid), UpdateExpression=f"{'ADD' if add else 'DELETE'} tags :t",
                                ConditionExpression="attribute_exists(PK)",
                                ExpressionAttributeValues={":t": {name}})
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            raise NotFound("We hold no data for this person. They may have been erased.") from exc
        raise


MAX_SOURCE = 200


def add_by_hand(data: dict, by: str) -> tuple[str, str]:
    """A coordinator adds someone who asked to join: they get the confirmation email and nothing else
    until they confirm; the consent record says where they asked. Returns (outcome, subscriber id):
    "sent", "already" (subscribed: nothing sent) or "cannot" (the address bounced or complained)."""
    errors: dict[str, str] = {}
    source = clean_line(data.get("source"))
    if not source:
        errors["source"] = "Say where they asked to join, for example \"at the March network meeting\"."
    elif len(source) > MAX_SOURCE:
        errors["source"] = f"Use at most {MAX_SOURCE} characters."
    try:
        request = subscriptions.parse_subscribe(data, "coordinator")
    except ValidationError as exc:
        found = {**exc.errors, **errors}
        if "consent" in found:
            found["consent"] = "Tick the box to record that they agreed to this wording."
        raise ValidationError(found) from exc
    if errors:
        raise ValidationError(errors)
    sid = subscriptions.email_id(request.email)
    existing, suppressed = subscriptions.load(sid), subscriptions.suppression_of(sid)
    if suppressed and suppressed.get("reason") in subscriptions.HARD_SUPPRESSION:
        return "cannot", sid
    if existing and existing["status"] == "confirmed":
        return "already", sid
    subscriptions.process_signup(replace(request, source=source, added_by=by))
    return "sent", sid


def parse_reason(data: dict) -> str:
    reason = clean_line(data.get("reason"))
    if not reason:
        raise ValidationError({"reason": "Write why, for example \"asked by phone on 3 March\"."})
    if len(reason) > MAX_REASON:
        raise ValidationError({"reason": f"Use at most {MAX_REASON} characters."})
    return reason
