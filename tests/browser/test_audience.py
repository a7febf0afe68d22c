"""The coordinator's subscriber pages in headless Chromium: a search, a person's page and acting for
them, each page (and its error states) checked with axe-core and at phone width."""
from __future__ import annotations

import re

import pytest

from tests.browser.conftest import sign_in
from tests.browser.test_accessibility import axe_page, violations  # noqa: F401 (a fixture)

pytestmark = pytest.mark.browser


def fits_a_phone(page) -> bool:
    page.set_viewport_size({"width": 375, "height": 740})
    try:
        return page.evaluate("document.documentElement.scrollWidth") <= 375
    finally:
        page.set_viewport_size({"width": 1280, "height": 800})


def test_find_a_person_see_their_record_and_unsubscribe_them(axe_page, peerpost):
    page = axe_page
    sign_in(page, peerpost)
    page.get_by_role("navigation", name="Coordinator").get_by_role("link", name="Subscribers").click()
    page.get_by_label("Whole email address or start of a name").fill("@example.org")
    page.get_by_role("button", name="Show").click()
    assert "Addresses cannot be searched by part" in page.content()
    assert page.get_by_label("Whole email address or start of a name").input_value() == "@example.org"
    assert violations(page) == [] and fits_a_phone(page)

    page.get_by_label("Whole email address or start of a name").fill("ami")
    page.get_by_role("button", name="Show").click()
    assert page.get_by_role("heading", name="Found: 1 person").is_visible()
    page.get_by_role("link", name="Amira").click()
    assert page.get_by_role("heading", name="Amira", level=1).is_visible()
    assert page.get_by_text("Event and training announcements").first.is_visible()
    assert violations(page) == [] and fits_a_phone(page)

    page.get_by_role("button", name="Unsubscribe").click()
    assert page.get_by_role("alert").is_visible()  # the reason is required
    assert violations(page) == [] and fits_a_phone(page)
    page.get_by_label("Why (kept in their consent history)").fill("Asked by phone")
    page.get_by_role("button", name="Unsubscribe").click()
    assert page.get_by_role("status").inner_text().startswith("Unsubscribed.")
    assert "Asked by phone" in page.content() and "By a coordinator" in page.content()
    assert violations(page) == [] and fits_a_phone(page)


def test_make_a_tag_tag_a_person_and_list_people_by_tag(axe_page, peerpost):
    page = axe_page
    sign_in(page, peerpost)
    page.goto(peerpost.base + "/coordinator/subscribers")
    page.get_by_role("link", name="Tags", exact=True).click()
    page.get_by_role("button", name="Add tag").click()
    assert page.get_by_role("alert").is_visible()
    assert violations(page) == [] and fits_a_phone(page)
    page.get_by_label("New tag").fill("peer worker")
    page.get_by_role("button", name="Add tag").click()
    assert page.get_by_role("status").inner_text() == "Tag added."
    assert violations(page) == [] and fits_a_phone(page)

    page.goto(peerpost.base + "/coordinator/subscribers?find=Ben")
    page.get_by_role("link", name="Ben").click()
    page.get_by_label("Add a tag").select_option("peer worker")
    page.get_by_role("button", name="Add tag").click()
    assert page.get_by_role("status").inner_text() == "Tag added."
    assert page.get_by_role("button", name="Remove “peer worker”").is_visible()
    assert violations(page) == [] and fits_a_phone(page)

    page.goto(peerpost.base + "/coordinator/subscribers")
    page.get_by_label(re.compile(r"^Tag")).select_option("peer worker")
    page.get_by_role("button", name="Show").click()
    assert page.get_by_role("heading", name="Confirmed, tagged peer worker: 1 person").is_visible()
    assert page.get_by_role("link", name="Ben").is_visible()
    assert violations(page) == [] and fits_a_phone(page)


def test_add_a_subscriber_by_hand(axe_page, peerpost):
    page = axe_page
    sign_in(page, peerpost)
    page.goto(peerpost.base + "/coordinator/subscribers")
    page.get_by_role("link", name="Add a subscriber").click()
    assert violations(page) == [] and fits_a_phone(page)
    page.get_by_label("Email address").fill("dana@example.org")
    page.get_by_label("Event and training announcements").check()
    page.get_by_role("button", name="Add and send the confirmation").click()
    assert page.get_by_role("alert").is_visible()
    assert page.get_by_label("Email address").input_value() == "dana@example.org"
    assert page.get_by_label("Event and training announcements").is_checked()
    assert violations(page) == [] and fits_a_phone(page)
    page.get_by_label("Where they asked to join").fill("By phone")
    page.get_by_label(re.compile("^They agreed to this")).check()
    page.get_by_role("button", name="Add and send the confirmation").click()
    assert page.get_by_role("status").inner_text().startswith("Added. They have been sent the confirmation email")
    assert "By phone" in page.content() and "Pending" in page.content()
    assert violations(page) == [] and fits_a_phone(page)
