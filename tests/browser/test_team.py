"""Issue 15 in headless Chromium: an admin invites a safeguarding lead, who sets a password and two
factors; the lead reads a flagged story, writes to its contributor and marks the flag handled; a story
is declined with a reason; a contributor approves an edit after seeing what changed. Each new page is
checked with axe-core and at phone width (PEERPOST_SHOTS=<folder> keeps screenshots)."""
from __future__ import annotations

import re

import pyotp
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import COORDINATOR, sign_in
from tests.browser.test_accessibility import axe_page, violations  # noqa: F401 (a fixture)
from tests.browser.test_audience import fits_a_phone
from tests.browser.test_audience_sends import shoot
from tests.browser.test_stories import fill_story

pytestmark = pytest.mark.browser
PASSWORD = "the heron waits by the weir"


def looked_at(page, name: str) -> None:
    assert violations(page) == [], name
    assert fits_a_phone(page), name
    shoot(page, name)


def link(message: dict, path: str) -> str:
    found = re.search(rf"http://127\.0\.0\.1:\d+{re.escape(path)}\?token=\S+", message["text"])
    assert found, message["text"]
    return found.group(0)


def test_invite_a_lead_who_sets_up_two_factors_then_handles_a_flag_and_writes_to_the_contributor(browser, peerpost):
    admin = browser.new_context(bypass_csp=True).new_page()
    sign_in(admin, peerpost)
    admin.get_by_role("link", name="Team").first.click()
    admin.get_by_role("button", name="Send invitation").click()  # nothing filled in
    expect(admin.locator(".error-summary")).to_contain_text("Choose at least one role")
    admin.locator("#invite").scroll_into_view_if_needed()
    admin.get_by_label("Name", exact=True).fill("Lee")
    admin.get_by_label("Email", exact=True).fill("lee@example.org")
    admin.locator("#invite-role-safeguarding").check()
    admin.locator("#invite-role-moderator").check()
    admin.get_by_role("button", name="Send invitation").click()
    expect(admin.get_by_text("Invitation sent.")).to_be_visible()
    looked_at(admin, "team")

    invitation = peerpost.wait_for_message("lee@example.org", "Join the coordinators")
    lee = browser.new_context(bypass_csp=True).new_page()
    lee.goto(link(invitation, "/coordinator/invitation"))
    lee.get_by_label("New password").fill("password1234")
    lee.get_by_label("The same password again").fill("password1234")
    lee.get_by_role("button", name="Save password").click()
    expect(lee.locator(".error-summary")).to_contain_text("most commonly used")
    lee.get_by_label("New password").fill(PASSWORD)
    lee.get_by_label("The same password again").fill(PASSWORD)
    lee.get_by_role("button", name="Save password").click()
    expect(lee.get_by_text("Your account is ready. Please sign in.")).to_be_visible()
    lee.goto(link(invitation, "/coordinator/invitation"))  # the used link, again
    expect(lee.get_by_text("already used")).to_be_visible()

    lee.goto(peerpost.base + "/coordinator/sign-in")
    lee.get_by_label("Email").fill("lee@example.org")
    lee.get_by_label("Password").fill(PASSWORD)
    lee.get_by_role("button", name="Sign in").click()
    expect(lee.get_by_role("heading", name="Set up two-factor sign-in")).to_be_visible()
    assert lee.locator(".qr svg").count() == 1
    looked_at(lee, "two-factor-setup")
    secret = lee.locator("code.secret").inner_text().replace(" ", "")
    lee.get_by_label("Code from the app").fill(pyotp.TOTP(secret).now())
    lee.get_by_role("button", name="Turn on two-factor sign-in").click()
    expect(lee.get_by_role("heading", name="Two-factor sign-in is on")).to_be_visible()
    assert lee.locator(".recovery-codes li").count() == 10
    looked_at(lee, "recovery-codes")
    lee.get_by_role("link", name="I have kept them: continue").click()
    expect(lee.get_by_role("heading", name="Hello, Lee")).to_be_visible()
    assert lee.get_by_role("link", name="Team").count() == 0  # not an admin

    # A story with words of risk: the lead reads it, writes to its contributor, marks the flag handled.
    public = browser.new_context(bypass_csp=True).new_page()
    public.goto(peerpost.base + "/stories/new")
    fill_story(public, title="A long night", email="robin@example.org")
    public.get_by_label("Your story", exact=True).fill("That night I wanted to end my life.")
    public.get_by_role("button", name="Send my story").click()
    public.get_by_role("heading", name="Thank you for your story").wait_for()
    lee.goto(peerpost.base + "/coordinator")
    lee.locator("#attention").get_by_role("link", name=re.compile("Story sent")).first.click()
    expect(lee.get_by_role("heading", name="A long night", exact=True)).to_be_visible()
    assert "robin@example.org" not in lee.content()
    lee.get_by_label("Subject").fill("Checking in")
    lee.get_by_label("Message", exact=True).fill("Thank you for writing to us. We are here if you want to talk.")
    lee.get_by_role("button", name="Send to the contributor").click()
    expect(lee.get_by_text("Message sent to the contributor.")).to_be_visible()
    sent = peerpost.wait_for_message("robin@example.org", "Checking in")
    assert "We are here if you want to talk." in sent["text"]
    lee.get_by_role("button", name="Mark the flag handled").click()
    expect(lee.locator(".error-summary")).to_contain_text("Say what was done")
    lee.get_by_label("What was done").fill("Phoned; signposted to the crisis line.")
    lee.get_by_role("button", name="Mark the flag handled").click()
    expect(lee.get_by_text("handled by Lee")).to_be_visible()
    looked_at(lee, "story-handled")

    # The admin sees all of it in the audit trail.
    admin.get_by_role("link", name="Audit trail").click()
    admin.get_by_label("Person").select_option(label="Lee")
    admin.get_by_role("button", name="Show").click()
    table = admin.locator("table").inner_text()
    assert "story message" in table and "story safeguarding handled" in table and "sign in" in table
    assert "robin@example.org" not in admin.content()
    looked_at(admin, "audit")
    for context in (admin.context, lee.context, public.context):
        context.close()


def test_decline_with_a_reason_and_a_contributor_approves_an_edit_after_seeing_what_changed(axe_page, peerpost):
    page = axe_page
    peerpost.clear_outbox()
    page.goto(peerpost.base + "/stories/new")
    fill_story(page, title="My first group", email="sam@example.org")
    page.get_by_role("button", name="Send my story").click()
    page.get_by_role("heading", name="Thank you for your story").wait_for()
    receipt = peerpost.wait_for_message("sam@example.org", "Thank you for your story")
    mine = re.search(r"http://127\.0\.0\.1:\d+/stories/mine/\S+", receipt["text"]).group(0)

    sign_in(page, peerpost)
    page.goto(peerpost.base + "/coordinator/stories")
    page.get_by_role("link", name="My first group").first.click()
    story_url = page.url
    page.get_by_role("button", name="Move to review").click()
    words = page.locator("#text")
    words.fill("A new first line.\n\n" + words.input_value().split("\n")[-1])
    page.get_by_role("button", name="Save as a new version").click()
    expect(page.get_by_text(re.compile("Saved as a new version"))).to_be_visible()

    contributor = page.context.browser.new_context(bypass_csp=True).new_page()
    contributor.goto(mine)
    expect(contributor.get_by_text("What changed from the words you approved")).to_be_visible()
    assert contributor.locator(".diff del").count() >= 1 and contributor.locator(".diff ins").count() >= 1
    shoot(contributor, "contributor-diff")
    assert violations(contributor) == []
    contributor.get_by_role("button", name="I approve this edited version").click()
    contributor.context.close()
    told_team = peerpost.wait_for_message(COORDINATOR[0], "A contributor has approved the edited version")
    assert story_url.split("/coordinator/")[1] in told_team["text"]

    page.goto(story_url)
    page.locator("summary", has_text="Decline this story").click()
    page.get_by_label("Why it is declined").fill("We have shared a very similar story this month.")
    page.get_by_role("button", name=re.compile("Decline and tell the contributor")).click()
    expect(page.get_by_text(re.compile("Status changed to"))).to_be_visible()
    told = peerpost.wait_for_message("sam@example.org", "About the story you sent us")
    assert "We have shared a very similar story this month." in told["text"] and "{reason}" not in told["text"]
