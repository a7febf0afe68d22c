"""An attendee's journey in headless Chromium: a place, the last place, the waiting list, a freed place, an offer."""
from __future__ import annotations

import re

import pytest

from tests.browser.events_http import coordinator_token, create_event

pytestmark = pytest.mark.browser


def link_in(message: dict, path: str) -> str:
    found = re.search(rf"http://127\.0\.0\.1:\d+/events/{path}/[A-Za-z0-9_.\-]+", message["text"])
    assert found, f"no {path} link"
    return found.group(0)


def register(page, peerpost, event_id: str, name: str, email: str, button: str, confirm: str) -> None:
    """The form, then the link it emails, then the button that makes the place count."""
    page.goto(peerpost.base + "/events")
    page.get_by_role("link", name="Browser journey", exact=True).click()
    page.get_by_label("Your name").fill(name)
    page.get_by_label("Email address").fill(email)
    page.get_by_role("button", name=button).click()
    page.get_by_role("heading", name="Check your email").wait_for()
    request = peerpost.wait_for_message(email, "Please confirm")
    page.goto(link_in(request, "confirm"))
    page.get_by_role("button", name=confirm).click()
    page.locator("#registration-status").wait_for()


def test_register_fill_wait_cancel_and_accept_the_offer(page, peerpost):
    event_id = create_event(peerpost.base, coordinator_token(peerpost), "Browser journey", 2)
    page.goto(peerpost.base + "/")
    page.get_by_role("link", name="Dates for the diary").first.click()
    page.get_by_role("heading", name="Dates for the diary").wait_for()
    assert page.get_by_text("2 places left").first.is_visible()

    register(page, peerpost, event_id, "Asha", "asha@example.org", "Reserve a place", "Yes, confirm my place")
    first = peerpost.wait_for_message("asha@example.org", "is confirmed")
    assert any("calendar" in str(a) for a in first["attachments"])
    register(page, peerpost, event_id, "Bea", "bea@example.org", "Reserve a place", "Yes, confirm my place")
    peerpost.wait_for_message("bea@example.org", "is confirmed")
    page.goto(peerpost.base + f"/events/{event_id}")
    assert page.locator("#availability").inner_text() == "Waiting list open"

    register(page, peerpost, event_id, "Cai", "cai@example.org", "Join the waiting list",
             "Yes, put me on the waiting list")
    waiting = peerpost.wait_for_message("cai@example.org", "waiting list")
    assert "You are number 1" in waiting["text"]
    page.goto(link_in(waiting, "registration"))
    assert "You are number 1" in page.locator("#registration-status").inner_text()

    page.goto(link_in(first, "registration"))
    page.get_by_role("button", name="Give my place back").click()
    page.get_by_text("You have given your place back").first.wait_for()

    offer = peerpost.wait_for_message("cai@example.org", "A place is free")
    page.goto(link_in(offer, "offer"))
    page.get_by_role("button", name="Accept the place").click()
    page.get_by_role("heading", name="Your place is confirmed").wait_for()
    peerpost.wait_for_message("cai@example.org", "is confirmed")
    page.goto(link_in(offer, "offer"))
    page.get_by_role("heading", name="Your place is confirmed").wait_for()


def test_demo_diary_from_the_seed_issue(page, peerpost):
    page.goto(peerpost.base + "/events")
    assert page.get_by_role("link", name=re.compile(r"^Peer Worker Network Meeting \(\w+\)$")).count() == 2
    for title in ("Peer Support Network Meeting", "Peer Support Training"):
        page.get_by_role("link", name=title, exact=True).wait_for()
    training = page.locator("li", has=page.get_by_role("link", name="Peer Support Training", exact=True))
    assert "To be confirmed" in training.inner_text() and "Waiting list open" in training.inner_text()
    assert "3 places left" in page.locator("li", has=page.get_by_role(
        "link", name="Peer Support Network Meeting", exact=True)).inner_text()
