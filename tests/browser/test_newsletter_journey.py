"""A coordinator previews, test-sends and sends the demo #PeerTalk issue in headless Chromium."""
from __future__ import annotations

import re

import pytest

from tests.browser.conftest import COORDINATOR, sign_in

pytestmark = pytest.mark.browser
SUBJECT = "#PeerTalk: Spotlight on parents"


def test_preview_test_send_and_send_the_demo_issue(page, peerpost):
    sign_in(page, peerpost)
    page.get_by_role("link", name="Newsletter issues").first.click()
    page.get_by_role("link", name="Spotlight on parents").click()

    page.get_by_role("link", name="Preview").click()
    desktop = page.frame_locator("iframe.preview-desktop")
    desktop.get_by_role("heading", name="Spotlight on parents", level=1).wait_for()
    desktop.get_by_role("heading", name="This issue").wait_for()
    mobile = page.frame_locator("iframe.preview-mobile")
    mobile.get_by_role("heading", name="Peer support video").wait_for()
    frame = page.frame(url=re.compile(r"preview\.html$"))
    widths = [f.evaluate("document.documentElement.scrollWidth") for f in page.frames if f.url.endswith("preview.html")]
    assert frame is not None and min(widths) <= 375  # readable on a phone: no sideways scrolling
    assert page.get_by_text("Hello Zoe", exact=False).first.is_visible()
    page.get_by_role("link", name="Back to the issue").click()

    page.get_by_label("Send a test to").fill(f"{COORDINATOR[0]}\ncolleague@example.org")
    page.get_by_role("button", name="Send a test").click()
    page.get_by_text("A test copy is on its way to 2 addresses.").wait_for()
    test = peerpost.wait_for_message(COORDINATOR[0], "[Test] " + SUBJECT)
    assert "Spotlight on parents" in test["text"]
    peerpost.wait_for_message("colleague@example.org", "[Test] " + SUBJECT)

    page.get_by_role("link", name="Send now").click()
    assert page.locator("#recipient-count strong").inner_text() == "2"  # what the outbox will hold
    page.go_back()  # nothing was sent by looking
    page.get_by_role("link", name="Send now").click()
    page.get_by_role("button", name="Yes, send it to 2 people").click()
    page.get_by_text("Done: every recipient has an outcome").wait_for(timeout=60_000)
    assert page.locator("#count-sent").inner_text() == "2"
    assert page.locator("#count-remaining").inner_text() == "0"

    copies = [m for m in peerpost.messages() if m["subject"] == SUBJECT]
    recipients = sorted(address for m in copies for address in m["to"])
    assert recipients == ["amira@example.org", "ben@example.org"]  # Chloe chose events only

    page.goto(peerpost.base + "/archive")
    page.get_by_role("link", name="Spotlight on parents").click()
    page.get_by_role("heading", name="Spotlight on parents", level=1).wait_for()
    assert "/unsubscribe/" not in page.content()
    page.get_by_role("main").wait_for()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Past issues").wait_for()
    page.set_viewport_size({"width": 375, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth") <= 375  # no sideways scrolling on a phone
