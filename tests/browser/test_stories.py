"""Stories in headless Chromium: the form keeps a story through a validation error, and a contributor
withdraws a published story from the private link in their receipt."""
from __future__ import annotations

import re

import pytest

from tests.browser.conftest import sign_in

pytestmark = pytest.mark.browser

STORY_TEXT = "The first time I went, I sat in the car for twenty minutes.\n\nThen I went in. <script>alert(1)</script>"


def contributor_link(message: dict) -> str:
    found = re.search(r"http://127\.0\.0\.1:\d+/stories/mine/[A-Za-z0-9_.\-]+", message["text"])
    assert found, "no contributor link in the receipt"
    return found.group(0)


def fill_story(page, title: str, email: str = "") -> None:
    page.get_by_label("Title of your story").fill(title)
    page.get_by_label("Your story", exact=True).fill(STORY_TEXT)
    page.get_by_label("Your name").fill("Robin Ashdown")
    if email:
        page.get_by_label("Your email address").fill(email)
    page.get_by_label("Share it with my first name only").check()
    page.get_by_label("The #PeerTalk newsletter, emailed to subscribers").check()
    page.get_by_label("The public web archive of past newsletter issues").check()
    page.get_by_label(re.compile("I agree that the coordinators")).check()


def test_a_validation_error_keeps_the_story(page, peerpost):
    page.goto(peerpost.base + "/")
    page.get_by_role("link", name="Share your story").first.click()
    for label in ("Our social media accounts", "Films and reports to the people who fund and commission services"):
        assert not page.get_by_label(label).is_checked()
    fill_story(page, title="")
    page.get_by_label("Your email address").fill("robin@not an address")
    page.get_by_role("button", name="Send my story").click()

    page.get_by_role("heading", name="There is a problem").wait_for()
    assert page.locator("#title-error").inner_text() == "Give your story a title."
    assert "valid email address" in page.locator("#email-error").inner_text()
    assert page.get_by_label("Your story", exact=True).input_value() == STORY_TEXT.replace("\n", "\n")
    assert page.get_by_label("Your name").input_value() == "Robin Ashdown"
    assert page.get_by_label("Share it with my first name only").is_checked()
    assert page.get_by_label("The public web archive of past newsletter issues").is_checked()
    assert not page.get_by_label("Our social media accounts").is_checked()

    page.get_by_label("Title of your story").fill("Twenty minutes in the car")
    page.get_by_label("Your email address").fill("")
    page.get_by_label(re.compile("I agree that the coordinators")).check()
    page.get_by_role("button", name="Send my story").click()
    page.get_by_role("heading", name="Thank you for your story").wait_for()


def test_contributor_withdraws_a_published_story_from_the_emailed_link(page, peerpost):
    page.goto(peerpost.base + "/stories/new")
    fill_story(page, title="Withdraw me later", email="robin.story@example.org")
    page.get_by_role("button", name="Send my story").click()
    page.get_by_role("heading", name="Thank you for your story").wait_for()
    receipt = peerpost.wait_for_message("robin.story@example.org", "Thank you for your story")
    link = contributor_link(receipt)

    sign_in(page, peerpost)
    page.goto(peerpost.base + "/coordinator/stories?status=new")
    page.get_by_role("link", name="Withdraw me later").click()
    story_url = page.url
    for button in ("Move to review", "Approve", "Publish"):
        page.get_by_role("button", name=button, exact=True).click()
        page.get_by_role("status").wait_for()
    assert 'signed "Robin"' in page.content()

    page.goto(link)
    page.get_by_role("heading", name="Your story", exact=True).wait_for()
    assert "<script>alert(1)</script>" in page.locator(".story-text").first.inner_text()
    assert 'shown, signed "Robin"' in page.content()
    page.get_by_label("The public web archive of past newsletter issues").uncheck()
    page.get_by_role("button", name="Save my choices").click()
    page.get_by_text("Your choices are saved").wait_for()
    assert "The public web archive of past newsletter issues: not shown" in page.locator("main").inner_text()

    page.get_by_role("button", name="Withdraw my story").click()
    page.get_by_text("Tick the box to confirm").first.wait_for()
    page.get_by_label("Yes, withdraw my story and erase it").check()
    page.get_by_role("button", name="Withdraw my story").click()
    page.get_by_role("heading", name="Your story is withdrawn").wait_for()
    peerpost.wait_for_message("robin.story@example.org", "withdrawn")

    page.goto(link)
    page.get_by_role("heading", name="This story has been withdrawn").wait_for()
    page.goto(story_url)
    page.get_by_role("heading", name="Withdrawn story").wait_for()
    assert "Withdraw me later" not in page.content() and "twenty minutes" not in page.content()


def test_the_safeguarding_alert_link_leads_through_sign_in_to_the_story(page, peerpost):
    from tests.browser.conftest import COORDINATOR

    peerpost.clear_outbox()
    page.goto(peerpost.base + "/stories/new")
    fill_story(page, title="A night I will not forget")
    page.get_by_label("Your story", exact=True).fill("That night I wanted to end my life.")
    page.get_by_role("button", name="Send my story").click()
    page.get_by_role("heading", name="Thank you for your story").wait_for()
    alert = peerpost.wait_for_message("safeguarding@peerpost.example.org", "Safeguarding")
    link = re.search(r"http://127\.0\.0\.1:\d+/coordinator/stories/[a-z0-9]+", alert["text"]).group(0)

    page.goto(link)  # signed out
    page.get_by_role("heading", name="Coordinator sign in").wait_for()
    page.get_by_label("Email").fill(COORDINATOR[0])
    page.get_by_label("Password").fill(COORDINATOR[1])
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Code from your authenticator app").fill(peerpost.next_code())
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="A night I will not forget", exact=True).wait_for()
    assert page.url == link and "Safeguarding:" in page.content()


def test_reloading_the_thank_you_page_sends_the_story_once(page, peerpost):
    page.goto(peerpost.base + "/stories/new")
    fill_story(page, title="Only once, please", email="once@example.org")
    page.get_by_role("button", name="Send my story").click()
    page.get_by_role("heading", name="Thank you for your story").wait_for()
    page.reload()
    page.get_by_role("heading", name="Thank you for your story").wait_for()
    page.go_back()
    page.go_forward()
    page.get_by_role("heading", name="Thank you for your story").wait_for()
    peerpost.wait_for_message("once@example.org", "Thank you for your story")
    page.goto(peerpost.base + "/coordinator/stories")  # a round trip: the receipt is sent within the request
    assert [m["subject"] for m in peerpost.messages() if "once@example.org" in m["to"]] == ["Thank you for your story"]
