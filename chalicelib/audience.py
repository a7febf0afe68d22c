"""The coordinator's view of subscribers: a filtered page at a time, finding one person, their record."""
from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from itertools import islice

from chalicelib import aws, clock, dynamo, forms, keys, links, subscriptions, tokens
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
class Audience:
    """Who a send is for: confirmed people who chose any of `topics`, and, if `tags` are given, carry
    any of them. Paused people are left out at send time (counted as paused)."""
    topics: tuple[str, ...] = ("newsletter",)
    tags: tuple[str, ...] = ()

    def includes(self, item: dict | None) -> bool:
        if not item or not set(self.topics) & set(item.get("topics", ())):
            return False
        return not self.tags or bool(set(self.tags) & set(item.get("tags", ())))

    def as_item(self) -> dict:
        return {"topics": list(self.topics), "tags": list(self.tags)}

    @classmethod
    def of(cls, holder: dict) -> "Audience":
        """The audience an issue (or its stored rendering) was sent to; the newsletter's for one from
        before audiences were chosen."""
        chosen = holder.get("audience") or {}
        return cls(tuple(chosen.get("topics") or ("newsletter",)), tuple(chosen.get("tags") or ()))


def parse_audience(data: dict, default: Audience | None = None) -> Audience:
    """The audience chosen on a send's confirmation page (topics and tags ticked)."""
    from chalicelib.forms import str_list

    if not any(k in data for k in ("audience_topics", "audience_tags", "audience_form")):
        return default or Audience()
    topics = tuple(t for t in subscriptions.TOPICS if t in str_list(data.get("audience_topics")))
    known = tag_names()
    chosen_tags = tuple(t for t in known if t in str_list(data.get("audience_tags")))
    if not topics:
        raise ValidationError({"audience_topics": "Choose who it is for: the newsletter, announcements, or both."})
    if len(chosen_tags) != len(set(str_list(data.get("audience_tags")))):
        raise ValidationError({"audience_tags": "Choose tags from the list."})
    return Audience(topics, chosen_tags)


def describe(chosen: Audience) -> str:
    """The audience in words, for the confirmation page and the issue's page."""
    names = tag_names()
    labels = (subscriptions.TOPICS[t] for t in chosen.topics if t in subscriptions.TOPICS)
    who = " or ".join(label[:1].lower() + label[1:] for label in labels)  # "#PeerTalk" keeps its capitals
    text = f"every confirmed subscriber who chose {who}"
    if chosen.tags:
        text += ", tagged " + " or ".join(f"“{names.get(t, 'a deleted tag')}”" for t in chosen.tags)
    return text


@dataclass(frozen=True)
class Page:
    people: list[dict]
    next_cursor: str  # "" on the last page
    total: int  # everyone matching the filter, not just this page


# The subscribers page's statuses: the three a subscriber item has, and two narrower views of them.
FILTER_STATUSES = {"pending": "Pending", "confirmed": "Confirmed", "paused": "Paused (confirmed, email paused)",
                   "unsubscribed": "Unsubscribed", "suppressed": "Suppressed (bounced, complained or blocked)"}
_HELD_AS = {"paused": "confirmed", "suppressed": "unsubscribed"}


def parse_filter(query: dict) -> Filter:
    status = str(query.get("status") or "confirmed")
    topic = str(query.get("topic") or "")
    tag = str(query.get("tag") or "")
    errors = {}
    if status not in FILTER_STATUSES:
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
    import operator

    from boto3.dynamodb.conditions import Attr, Key

    held_as = _HELD_AS.get(chosen.status, chosen.status)
    query: dict = {"IndexName": "GSI1",
                   "KeyConditionExpression": Key("GSI1PK").eq(keys.subscribers_by_status(held_as))}
    wanted = [Attr("topics").contains(chosen.topic)] if chosen.topic else []
    wanted += [Attr("tags").contains(chosen.tag)] if chosen.tag else []
    wanted += [Attr("paused_until").gt(clock.iso())] if chosen.status == "paused" else []
    wanted += [Attr("suppressed").exists()] if chosen.status == "suppressed" else []
    if chosen.basis:  # people who signed up themselves carry no basis
        wanted.append(Attr("basis").not_exists() if chosen.basis == "signed-up" else Attr("basis").eq(chosen.basis))
    if wanted:
        query["FilterExpression"] = functools.reduce(operator.and_, wanted)
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
    total = dynamo.query_count(**query)
    return Page(_with_ids(people), tokens.sign(links.Purpose.SUBSCRIBERS_PAGE, start) if start else "", total)


def _with_ids(items: list[dict]) -> list[dict]:
    return [{**item, "sid": keys.subscriber_id(item)} for item in items]


def _start_key(cursor: str) -> dict | None:
    if not cursor:
        return None
    try:
        start = tokens.verify(links.Purpose.SUBSCRIBERS_PAGE, cursor)
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
            email = forms.email_address(text)
        except ValidationError as exc:
            raise ValidationError({"find": "Enter a whole email address (name@example.org) or the start of "
                                           "a name. Addresses cannot be searched by part."}) from exc
        item = subscriptions.load(subscriptions.email_id(email))
        return [item] if item else []
    prefix = keys.name_key(text)
    if not prefix:
        return []
    from boto3.dynamodb.conditions import Key

    return list(islice(dynamo.query_items(IndexName="GSI2", Limit=PAGE_SIZE, KeyConditionExpression=(
        Key("GSI2PK").eq(keys.subscribers_by_name()) & Key("GSI2SK").begins_with(prefix))), PAGE_SIZE))


def person(sid: str) -> dict:
    """One subscriber as the coordinator's page shows them: their item, suppression, consent wording,
    their tags by name and whether their email is paused."""
    item = subscriptions.load(sid) if _well_formed(sid) else None
    if not item:
        raise NotFound("We hold no data for this person. They may have been erased.")
    known = tag_names()
    return {**item, "sid": sid, "suppression": subscriptions.suppression_of(sid),
            "consent_wording": subscriptions.CONSENT_WORDING.get(item["consent"]["wording_version"], ""),
            "tag_list": [(t, known[t]) for t in known if t in item.get("tags", ())],
            "paused": subscriptions.is_paused(item)}


SENT_HISTORY = 24  # the issues and announcements a person's page looks back over


def sent_to(sid: str, limit: int = SENT_HISTORY) -> list[dict]:
    """What PeerPost sent this person: each of the last `limit` sends with its outcome for them.

    Read from the sends' own delivery records (one BatchGetItem), so keeping it costs the send
    nothing. A claim still "sending" whose queue message was counted is a sent copy."""
    from chalicelib import issues
    from chalicelib.settings import get_settings

    sends = [i for i in issues.list_issues(limit=limit * 3) if i["status"] in issues.PUBLISHED][:limit]
    if not sends:
        return []
    wanted = [dynamo.serialise(keys.delivery(i["issue_id"], sid)) for i in sends]
    raw = dynamo.batch_get(aws.dynamodb_client(), get_settings().table_name, wanted,
                           ProjectionExpression="PK, #s, reason, #b, finished_at, claimed_at",
                           ExpressionAttributeNames={"#s": "status", "#b": "batch"})
    found = {}
    for item in raw:
        record = dynamo.deserialise(item)
        found[record["PK"]] = record
    history = []
    for send in sends:
        record = found.get(keys.issue_partition(send["issue_id"]))
        if not record:
            continue  # not in that send's audience
        outcome = record["status"]
        if outcome == "sending":
            outcome = "sent" if record.get("batch") in send.get("counted", set()) else "sending"
        history.append({"issue_id": send["issue_id"], "title": send["title"], "kind": send.get("kind", "issue"),
                        "outcome": outcome, "reason": record.get("reason", ""),
                        "at": record.get("finished_at") or record.get("claimed_at", "")})
    return history


def _well_formed(sid: str) -> bool:
    return 0 < len(sid) <= 64 and sid.isascii() and sid.isalnum()


def tag_names() -> dict[str, str]:
    """The tags coordinators have made, id -> name, in alphabetical order of name. A person's item
    holds tag ids, so renaming a tag is one write however many people carry it. (Tags made before ids
    existed are their own id: `tag_names`, a string set.)"""
    item = aws.table().get_item(Key=keys.tags(), ConsistentRead=True).get("Item") or {}
    found = {name: name for name in item.get("tag_names", set())}
    found.update(item.get("tag_map", {}))
    return dict(sorted(found.items(), key=lambda pair: pair[1].casefold()))


tags = tag_names


def names_of(tag_ids, known: dict[str, str] | None = None) -> list[str]:
    """The names of a person's tags, sorted; a deleted tag's id is not shown."""
    known = tag_names() if known is None else known
    return sorted((known[t] for t in tag_ids or () if t in known), key=str.casefold)


def parse_tag(data: dict, field: str = "tag") -> str:
    name = clean_line(data.get(field))
    if not name:
        raise ValidationError({field: "Enter a tag, for example \"peer worker\"."})
    if len(name) > MAX_TAG:
        raise ValidationError({field: f"Use at most {MAX_TAG} characters."})
    return name


def _id_named(name: str, known: dict[str, str]) -> str:
    return next((tag_id for tag_id, tag in known.items() if tag.casefold() == name.casefold()), "")


def _with_tag_map():
    """The table, once the tags item has a map to set names in (a path into a missing map fails)."""
    table = aws.table()
    table.update_item(Key=keys.tags(), UpdateExpression="SET tag_map = if_not_exists(tag_map, :empty)",
                      ExpressionAttributeValues={":empty": {}})
    return table


def define_tag(name: str) -> bool:
    """Add a tag to the set coordinators choose from; False if one of that name is there already."""
    import uuid

    known = tag_names()
    if _id_named(name, known):
        return False
    table = _with_tag_map()
    legacy = len(known) - len((table.get_item(Key=keys.tags(), ConsistentRead=True)["Item"]).get("tag_map", {}))
    # the limit holds under two coordinators adding at once: a condition, not the read above
    if not dynamo.update_if(
            table, Key=keys.tags(), UpdateExpression="SET tag_map.#id = :n", ConditionExpression="size(tag_map) < :max",
            ExpressionAttributeNames={"#id": uuid.uuid4().hex[:12]},
            ExpressionAttributeValues={":n": name, ":max": MAX_TAGS - legacy}):
        raise ValidationError({"tag": f"There are already {MAX_TAGS} tags. Use one of them."})
    return True


def rename_tag(tag_id: str, name: str) -> None:
    """Give a tag a new name; everyone who carries it keeps it."""
    known = tag_names()
    if tag_id not in known:
        raise NotFound("There is no such tag. It may have been deleted.")
    clash = _id_named(name, known)
    if clash and clash != tag_id:
        raise ValidationError({f"name-{tag_id}": f"There is already a tag called “{known[clash]}”."})
    table = _with_tag_map()
    if not dynamo.update_if(
            table, Key=keys.tags(), UpdateExpression="SET tag_map.#id = :n DELETE tag_names :ids",
            ConditionExpression="attribute_exists(tag_map.#id) OR contains(tag_names, :id)",
            ExpressionAttributeNames={"#id": tag_id},
            ExpressionAttributeValues={":n": name, ":ids": {tag_id}, ":id": tag_id}):
        raise NotFound("There is no such tag. It may have been deleted.")


def delete_tag(tag_id: str) -> bool:
    """Take a tag out of the set: nobody shows it or can be found or sent to by it any more (the id
    left on people's items is never shown, and a new tag never reuses it). False if it was gone."""
    if tag_id not in tag_names():
        return False
    aws.table().update_item(Key=keys.tags(), UpdateExpression="REMOVE tag_map.#id DELETE tag_names :ids",
                            ExpressionAttributeNames={"#id": tag_id}, ExpressionAttributeValues={":ids": {tag_id}})
    return True


def tag_person(sid: str, tag_id: str, add: bool) -> None:
    """Add a defined tag to a person, or take one off. Doing it twice is the same as once."""
    if tag_id not in tag_names():
        raise ValidationError({"tag": "Choose a tag from the list."})
    if not dynamo.update_if(Key=keys.subscriber(sid), UpdateExpression=f"{'ADD' if add else 'DELETE'} tags :t",
                            ConditionExpression="attribute_exists(PK)",
                            ExpressionAttributeValues={":t": {tag_id}}):
        raise NotFound("We hold no data for this person. They may have been erased.")


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
