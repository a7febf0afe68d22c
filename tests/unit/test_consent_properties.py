"""Property tests of the one consent decision, over random stories, levels, channels and edit histories.

Two layers: consent.decide on arbitrary (even malformed) records, and the real service (moto) driven
through random histories of submissions, consent changes, edits, approvals, moderation and withdrawal,
checked against an independent model of what the contributor agreed to.
"""
from __future__ import annotations

import string

from hypothesis import HealthCheck, event, given, settings, strategies as st

from chalicelib import consent
from chalicelib.consent import CHANNELS, LEVELS

names = st.one_of(
    st.just(""),
    st.lists(st.text(alphabet=string.ascii_letters + "'-éø", min_size=1, max_size=10), min_size=1, max_size=4)
    .map(" ".join),
)
words = st.text(alphabet=string.ascii_letters + " .,<>&\"'\n", min_size=0, max_size=60)
channel_sets = st.lists(st.sampled_from(CHANNELS), unique=True, max_size=4)


@st.composite
def stored_stories(draw):
    """Arbitrary records in the stored shape, including inconsistent ones a bug might produce."""
    count = draw(st.integers(min_value=0, max_value=4))
    versions = [{"number": n, "title": draw(words), "text": draw(words),
                 "content_notes": draw(st.lists(words, max_size=2)),
                 "approved_at": draw(st.one_of(st.none(), st.just("2026-11-01T00:00:00+00:00")))}
                for n in range(1, count + 1)]
    numbers = st.one_of(st.none(), st.integers(min_value=0, max_value=5))
    return {
        "story_id": "s1",
        "status": draw(st.sampled_from(["new", "in_review", "awaiting_approval", "approved", "published",
                                        "withdrawn", "rejected", "bogus"])),
        "name": draw(names),
        "current_version": draw(numbers),
        "approved_version": draw(numbers),
        "withdrawn_at": draw(st.one_of(st.none(), st.just("2026-11-02T00:00:00+00:00"))),
        "consent": {"level": draw(st.sampled_from([*LEVELS, "everyone"])), "channels": draw(channel_sets),
                    "version": draw(numbers),
                    "wording_version": draw(st.sampled_from([consent.WORDING_VERSION, "old-wording"]))},
        "versions": versions,
    }


def allowed_attributions(level: str, name: str) -> set[str]:
    parts = name.split()
    if level == "full_name" and parts:
        return {" ".join(parts)}
    if level == "first_name" and parts:
        return {parts[0]}
    return {"Anonymous"}


def unquoted(cell: str) -> set[str]:
    """A CSV cell as typed, allowing for the quote that neutralises spreadsheet formulas."""
    return {cell, cell[1:]} if cell.startswith("'") else {cell}


@settings(max_examples=600)
@given(stored_stories(), st.sampled_from([*CHANNELS, "billboard", ""]))
def test_decide_never_shows_more_than_was_agreed(story, channel):
    shared = consent.decide(story, channel)
    if shared is None:
        return
    agreed = story["consent"]
    assert story["status"] == "published" and not story["withdrawn_at"]
    assert agreed["level"] in ("anonymous", "first_name", "full_name")          # never private
    assert channel in CHANNELS and channel in agreed["channels"]                  # never without its tick
    assert shared.attribution in allowed_attributions(agreed["level"], story["name"])  # never beyond its level
    if agreed["level"] != "full_name":
        surnames = story["name"].split()[1:]
        assert not any(s == shared.attribution or f" {s}" in shared.attribution for s in surnames)
    [version] = [v for v in story["versions"] if v["number"] == shared.version]
    assert version["approved_at"]                                                 # never an unapproved version
    assert shared.version == agreed["version"] == story["approved_version"] == story["current_version"]
    assert (shared.title, shared.text) == (version["title"], version["text"])     # the approved words, exactly


@given(stored_stories())
def test_private_and_withdrawn_stories_appear_nowhere(story):
    for variant in ({**story, "consent": {**story["consent"], "level": "private"}},
                    {**story, "status": "withdrawn"},
                    {**story, "consent": {**story["consent"], "channels": []}}):
        assert all(consent.decide(variant, channel) is None for channel in CHANNELS)


# ---------------------------------------------------------------- the real service, random histories

operations = st.lists(st.one_of(
    st.tuples(st.just("consent"), st.sampled_from(LEVELS), channel_sets),
    st.tuples(st.just("edit"), words.filter(lambda w: w.strip())),
    st.tuples(st.just("approve")),
    st.tuples(st.just("approve_stale")),
    st.tuples(st.just("keep_mine")),
    st.tuples(st.just("status"), st.sampled_from(["in_review", "approved", "published", "rejected"])),
    st.tuples(st.just("publish")),
    st.tuples(st.just("publish")),
    st.tuples(st.just("withdraw")),
), max_size=8)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(level=st.sampled_from(LEVELS), channels=channel_sets, name=names, history=operations)
def test_random_histories_through_the_service(level, channels, name, history):
    import boto3
    from moto import mock_aws

    from chalicelib import aws, stories
    from chalicelib.errors import PeerPostError
    from localdev import stack

    aws.reset()
    with mock_aws():
        stack.create_all(boto3.session.Session(region_name="eu-west-2"))
        if level in ("first_name", "full_name") and not name:
            name = "Robin Ashdown"
        channels = [] if level == "private" else channels
        submission = stories.parse_submission({
            "title": "A story", "text": "Version one words", "name": name, "email": "",
            "level": level, "channels": channels, "consent": "yes"})
        story_id = stories.submit(submission, "client")
        # The model: what the contributor has agreed to, kept independently of the store.
        model = {"level": level, "channels": set(channels), "approved_texts": {1: "Version one words"},
                 "latest": 1, "withdrawn": False}
        for step in history:
            try:
                if step[0] == "consent":
                    stories.change_consent(story_id, {"level": step[1], "channels": list(step[2])})
                    model["level"], model["channels"] = step[1], set(step[2])
                elif step[0] == "edit":
                    stories.edit(story_id, {"title": "A story", "text": step[1]}, "zoe@peerpost.test")
                    model["latest"] += 1
                    model.setdefault("texts", {})[model["latest"]] = stories.clean_text(step[1])
                elif step[0] == "approve":
                    stories.approve_version(story_id, model["latest"])
                    model["approved_texts"][model["latest"]] = model["texts"][model["latest"]]
                elif step[0] == "keep_mine":
                    stories.keep_my_version(story_id, model["latest"])
                    restored = model["approved_texts"][max(model["approved_texts"])]
                    model["latest"] += 1
                    model["approved_texts"][model["latest"]] = restored
                elif step[0] == "approve_stale":
                    stories.approve_version(story_id, model["latest"] - 1)
                elif step[0] == "status":
                    stories.set_status(story_id, step[1])
                elif step[0] == "publish":
                    for status in ("in_review", "approved", "published"):
                        try:
                            stories.set_status(story_id, status)
                        except PeerPostError:
                            pass
                elif step[0] == "withdraw":
                    stories.withdraw(story_id)
                    model["withdrawn"] = True
            except PeerPostError:
                pass  # refused operations must change nothing the model relies on
            for channel in CHANNELS:
                shared = stories.shareable(story_id, channel)
                in_list = [s for s in stories.shareable_for(channel) if s.story_id == story_id]
                assert in_list == ([shared] if shared else [])
                if shared is None:
                    continue
                assert not model["withdrawn"]
                assert model["level"] != "private"
                assert channel in model["channels"]
                assert shared.attribution in allowed_attributions(model["level"], name)
                assert shared.version == model["latest"]
                assert shared.text == model["approved_texts"][shared.version]
                event("a story was shared")
        # The exports for social media and reports are renders too: same rules, read from the CSV.
        import csv
        import io

        for channel in CHANNELS:
            rows = list(csv.DictReader(io.StringIO(stories.export_channel_csv(channel))))
            if model["withdrawn"] or model["level"] == "private" or channel not in model["channels"]:
                assert rows == []
            for row in rows:
                assert unquoted(row["attribution"]) & allowed_attributions(model["level"], name)
                assert unquoted(row["text"]) & set(model["approved_texts"].values())
        if model["withdrawn"]:
            story = stories.get(story_id)
            assert story["versions"] == [] and "name" not in story
    aws.reset()
