"""Issue 13 in headless Chromium: the overview with its charts, a subscriber pausing their email, tags
renamed and deleted, a send narrowed to announcements and a tag, and the suppression page; each page
checked with axe-core and at phone width."""
from __future__ import annotations

import os
import re

import pytest

from tests.browser.conftest import sign_in
from tests.browser.test_accessibility import axe_page, violations  # noqa: F401 (a fixture)
from tests.browser.test_audience import fits_a_phone
from tests.browser.test_subscriber_journey import link_in

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("PEERPOST_SHOTS", "")  # a folder: screenshots of each page at desktop and phone width


def shoot(page, name: str) -> None:
    if not SHOTS:
        return
    page.screenshot(path=f"{SHOTS}/{name}-desktop.png", full_page=True)
    page.set_viewport_size({"width": 375, "height": 740})
    page.screenshot(path=f"{SHOTS}/{name}-phone.png", full_page=True)
    page.set_viewport_size({"width": 1280, "height": 800})


def test_the_overview_leads_with_what_needs_attention_and_its_charts_load(axe_page, peerpost):
    page = axe_page
    sign_in(page, peerpost)
    assert page.get_by_role("heading", name="What needs you").is_visible()
    for chart in page.locator("figure.chart img").all():
        chart.scroll_into_view_if_needed()
        assert page.evaluate("(img) => img.decode().then(() => img.naturalWidth > 0)", chart.element_handle())
    assert page.get_by_role("table", name=re.compile("People who joined and left")).is_visible()
    assert "no open or click tracking" in page.content()
    assert violations(page) == [] and fits_a_phone(page)
    shoot(page, "overview")


def test_a_subscriber_pauses_their_email_and_starts_it_again(axe_page, peerpost):
    page = axe_page
    page.goto(peerpost.base + "/subscribe")
    page.get_by_label("Email address").fill("rest@example.org")
    page.get_by_label(re.compile("I agree")).check()
    page.get_by_role("button", name="Subscribe").click()
    page.get_by_role("heading", name="Check your email").wait_for()
    page.goto(link_in(peerpost.wait_for_message("rest@example.org", "confirm"), "confirm"))
    page.get_by_role("button", name="Yes, subscribe me").click()
    page.goto(link_in(peerpost.wait_for_message("rest@example.org", "Welcome"), "preferences"))
    assert page.get_by_role("heading", name="Take a break").is_visible()
    assert violations(page) == [] and fits_a_phone(page)
    page.get_by_label("3 months").check()
    page.get_by_role("button", name="Pause my email").click()
    assert page.get_by_role("status").first.inner_text().startswith("Your email is paused")
    assert "paused until" in page.locator("#paused-until").inner_text()
    assert violations(page) == [] and fits_a_phone(page)
    shoot(page, "preferences-paused")
    page.reload()  # a reload shows the page again and changes nothing
    page.get_by_role("button", name="Start my email again now").click()
    assert page.get_by_role("status").first.inner_text().startswith("Your email is on again")
    page.go_back()
    assert page.get_by_role("button", name="Pause my email").is_visible()


def test_rename_and_delete_a_tag_then_send_to_announcements_with_it(axe_page, peerpost):
    page = axe_page
    sign_in(page, peerpost)
    page.goto(peerpost.base + "/coordinator/tags")
    page.get_by_label("New tag").fill("trainers")
    page.get_by_role("button", name="Add tag").click()
    page.get_by_label("New name for “trainers”").fill("peer trainers")
    page.get_by_role("button", name="Rename").first.click()
    assert page.get_by_role("status").inner_text().startswith("Tag renamed")
    assert page.get_by_role("link", name="peer trainers").is_visible()
    assert violations(page) == [] and fits_a_phone(page)
    shoot(page, "tags")

    page.goto(peerpost.base + "/coordinator/subscribers?find=Amira")
    page.get_by_role("link", name="Amira").click()
    page.get_by_label("Add a tag").select_option("peer trainers")
    page.get_by_role("button", name="Add tag").click()
    assert page.get_by_role("heading", name="What PeerPost sent them").is_visible()
    assert violations(page) == [] and fits_a_phone(page)
    shoot(page, "person")

    page.goto(peerpost.base + "/coordinator/issues")
    page.get_by_role("link", name="New issue").first.click()
    page.get_by_label("Title").fill("Trainers wanted")
    page.get_by_role("button", name="Save draft").first.click()
    page.get_by_role("link", name="Done: back to the issue").click()
    page.get_by_role("link", name=re.compile("^Send now")).click()
    page.get_by_text("Choose who it goes to").click()
    page.get_by_label("The monthly #PeerTalk newsletter").uncheck()
    page.get_by_label("Event and training announcements").check()
    page.get_by_label("peer trainers").check()
    page.get_by_role("button", name="Count them again").click()
    assert "<strong>1</strong> person" in page.content() and "tagged “peer trainers”" in page.content()
    assert violations(page) == [] and fits_a_phone(page)
    shoot(page, "send-audience")
    page.get_by_role("button", name="Yes, send it to 1 person").click()
    page.get_by_role("cell", name="1", exact=True).first.wait_for()
    copy = peerpost.wait_for_message("amira@example.org", "Trainers wanted", timeout=90)
    assert [m["to"] for m in peerpost.messages() if "Trainers wanted" in m["subject"]] == [copy["to"]]

    page.goto(peerpost.base + "/coordinator/tags")
    page.get_by_label("Delete “peer trainers” from everyone who has it").check()
    page.get_by_role("button", name="Delete").first.click()
    assert page.get_by_role("status").inner_text().startswith("Tag deleted")


def test_the_suppression_page_and_a_stop_by_hand(axe_page, peerpost):
    page = axe_page
    sign_in(page, peerpost)
    page.goto(peerpost.base + "/coordinator/subscribers")
    page.get_by_role("link", name="Suppressed addresses").click()
    page.get_by_role("button", name="Stop all mail to it").click()
    assert page.get_by_role("alert").is_visible()
    assert violations(page) == [] and fits_a_phone(page)
    page.get_by_label("Email address").fill("never@example.org")
    page.get_by_label("Why (kept with the suppression)").fill("Asked by phone never to be emailed")
    page.get_by_role("button", name="Stop all mail to it").click()
    assert page.get_by_role("status").inner_text().startswith("Stopped.")
    assert "An address we hold nothing else about" in page.content() and "never@example.org" not in page.content()
    assert violations(page) == [] and fits_a_phone(page)
    shoot(page, "suppressions")
