"""The whole subscriber journey in headless Chromium, as a person would do it."""
from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.browser


def link_in(message: dict, path: str) -> str:
    found = re.search(rf"http://127\.0\.0\.1:\d+/{path}/[A-Za-z0-9_.\-]+", message["text"])
    assert found, f"no {path} link"
    return found.group(0)


def test_subscribe_confirm_preferences_unsubscribe(page, peerpost):
    page.goto(peerpost.base + "/")
    page.get_by_role("link", name="Get the newsletter").click()
    page.get_by_label("Email address").fill("not an address")
    page.get_by_label("First name").fill("Robin")
    page.get_by_label(re.compile("I agree")).check()
    page.get_by_role("button", name="Subscribe").click()
    assert page.get_by_text("Enter a valid email address").first.is_visible()
    assert page.get_by_label("First name").input_value() == "Robin"

    page.get_by_label("Email address").fill("robin@example.org")
    page.get_by_label(re.compile("I agree")).check()
    page.get_by_role("button", name="Subscribe").click()
    page.get_by_role("heading", name="Check your email").wait_for()

    confirmation = peerpost.wait_for_message("robin@example.org", "confirm")
    page.goto(link_in(confirmation, "confirm"))
    page.get_by_role("button", name="Yes, subscribe me").click()
    page.get_by_role("heading", name="You are subscribed").wait_for()

    welcome = peerpost.wait_for_message("robin@example.org", "Welcome")
    assert welcome["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    page.goto(link_in(welcome, "preferences"))
    page.get_by_label("Event and training announcements").check()
    page.get_by_role("button", name="Save my preferences").click()
    page.get_by_text("Your preferences are saved").wait_for()

    page.goto(link_in(welcome, "unsubscribe"))
    page.get_by_role("button", name="Unsubscribe me").click()
    page.get_by_role("heading", name="You are unsubscribed").wait_for()


def test_outbox_pages_show_each_message(page, peerpost):
    page.goto(peerpost.outbox + "/")
    page.get_by_role("heading", name="PeerPost outbox").wait_for()
    messages = peerpost.messages()
    assert messages and {"id", "to", "subject", "html", "text", "headers", "raw"} <= set(messages[0])
    page.get_by_role("link", name=messages[0]["subject"]).first.click()
    page.get_by_role("heading", name="Raw source").wait_for()
