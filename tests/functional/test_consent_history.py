"""The real stories service (moto) driven through random histories of consent changes, edits,
approvals, moderation and withdrawal, as a Hypothesis state machine checked after every step against
an independent model of what the contributor agreed to. A failure shrinks to the shortest history."""
from __future__ import annotations

import csv
import io

from hypothesis import HealthCheck, event, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from chalicelib.consent import CHANNELS, LEVELS
from tests.unit.test_consent_properties import allowed_attributions, channel_sets, names, unquoted, words


class ConsentHistory(RuleBasedStateMachine):
    def __init__(self) -> None:
        import boto3
        from moto import mock_aws

        from chalicelib import aws
        from localdev import stack

        super().__init__()
        aws.reset()
        self._aws = mock_aws()
        self._aws.start()
        stack.create_all(boto3.session.Session(region_name="eu-west-2"))
        self.story_id = ""
        self.name = ""
        self.model: dict = {}

    def _refusable(self, action) -> bool:
        """Run a step; a refused one (PeerPostError) must change nothing the model relies on."""
        from chalicelib.errors import PeerPostError

        try:
            action()
        except PeerPostError:
            return False
        return True

    @initialize(level=st.sampled_from(LEVELS), channels=channel_sets, name=names)
    def submit(self, level, channels, name):
        from chalicelib import stories

        if level in ("first_name", "full_name") and not name:
            name = "Robin Ashdown"
        channels = [] if level == "private" else channels
        self.name = name
        self.story_id = stories.submit(stories.parse_submission({
            "title": "A story", "text": "Version one words", "name": name, "email": "",
            "level": level, "channels": channels, "consent": "yes"}), "client")
        self.model = {"level": level, "channels": set(channels), "approved_texts": {1: "Version one words"},
                      "texts": {}, "latest": 1, "withdrawn": False}

    @rule(level=st.sampled_from(LEVELS), channels=channel_sets)
    def change_consent(self, level, channels):
        from chalicelib import stories

        if self._refusable(lambda: stories.change_consent(self.story_id, {"level": level, "channels": list(channels)})):
            self.model["level"], self.model["channels"] = level, set(channels)

    @rule(text=words.filter(lambda w: w.strip()))
    def edit(self, text):
        from chalicelib import stories

        if self._refusable(lambda: stories.edit(self.story_id, {"title": "A story", "text": text}, "zoe@peerpost.test")):
            self.model["latest"] += 1
            self.model["texts"][self.model["latest"]] = stories.clean_text(text)

    @rule()
    def approve(self):
        from chalicelib import stories

        latest = self.model["latest"]
        if self._refusable(lambda: stories.approve_version(self.story_id, latest)):
            self.model["approved_texts"][latest] = self.model["texts"][latest]

    @rule()
    def approve_stale(self):
        from chalicelib import stories

        self._refusable(lambda: stories.approve_version(self.story_id, self.model["latest"] - 1))

    @rule()
    def keep_mine(self):
        from chalicelib import stories

        if self._refusable(lambda: stories.keep_my_version(self.story_id, self.model["latest"])):
            restored = self.model["approved_texts"][max(self.model["approved_texts"])]
            self.model["latest"] += 1
            self.model["approved_texts"][self.model["latest"]] = restored

    @rule(status=st.sampled_from(["in_review", "approved", "published", "rejected"]))
    def moderate(self, status):
        from chalicelib import stories

        reason = {"decline_reason": "Not for us this time."} if status == "rejected" else None
        self._refusable(lambda: stories.set_status(self.story_id, status, extra=reason))

    @rule()
    def publish(self):
        from chalicelib import stories

        for status in ("in_review", "approved", "published"):
            self._refusable(lambda status=status: stories.set_status(self.story_id, status))

    @rule()
    def withdraw(self):
        from chalicelib import stories

        if self._refusable(lambda: stories.withdraw(self.story_id)):
            self.model["withdrawn"] = True

    @invariant()
    def shown_only_as_agreed(self):
        from chalicelib import stories

        model = self.model
        for channel in CHANNELS:
            shared = stories.shareable(self.story_id, channel)
            in_list = [s for s in stories.shareable_for(channel) if s.story_id == self.story_id]
            assert in_list == ([shared] if shared else [])
            if shared is None:
                continue
            assert not model["withdrawn"] and model["level"] != "private" and channel in model["channels"]
            assert shared.attribution in allowed_attributions(model["level"], self.name)
            assert shared.version == model["latest"]
            assert shared.text == model["approved_texts"][shared.version]
            event("a story was shared")

    def exports_follow_the_same_rules(self):
        """The exports for social media and reports are renders too: same rules, read from the CSV
        (checked at the end of each history: a CSV per channel after every step costs too much)."""
        from chalicelib import stories

        model = self.model
        for channel in CHANNELS:
            rows = list(csv.DictReader(io.StringIO(stories.export_channel_csv(channel))))
            if model["withdrawn"] or model["level"] == "private" or channel not in model["channels"]:
                assert rows == []
            for row in rows:
                assert unquoted(row["attribution"]) & allowed_attributions(model["level"], self.name)
                assert unquoted(row["text"]) & set(model["approved_texts"].values())

    @invariant()
    def a_withdrawal_removes_the_words_and_the_name(self):
        from chalicelib import stories

        if self.model["withdrawn"]:
            story = stories.get(self.story_id)
            assert story["versions"] == [] and "name" not in story

    def teardown(self) -> None:
        from chalicelib import aws

        try:
            if self.story_id:
                self.exports_follow_the_same_rules()
        finally:
            self._aws.stop()
        aws.reset()


TestConsentHistory = ConsentHistory.TestCase
TestConsentHistory.settings = settings(max_examples=30, stateful_step_count=8, deadline=None,
                                       suppress_health_check=[HealthCheck.too_slow])
