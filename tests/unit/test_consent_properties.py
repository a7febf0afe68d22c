"""Property tests of the one consent decision, over random stories, levels, channels and edit histories.

consent.decide on arbitrary (even malformed) records, with no AWS at all. The real service driven
through random histories is tests/functional/test_consent_history.py.
"""
from __future__ import annotations

import string

from hypothesis import given, settings, strategies as st

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
