"""Composing an issue in the editor, in headless Chromium: cards, autosave, the live preview, the
warning before leaving, copying, and the same with JavaScript off."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import sign_in

pytestmark = pytest.mark.browser


def test_compose_a_new_issue_from_nothing_with_the_preview_beside_it(page, peerpost):
    sign_in(page, peerpost)
    page.goto(peerpost.base + "/coordinator/issues/new")
    page.get_by_label("Title").fill("January issue")
    page.locator("#section-0").get_by_label("Heading").fill("Happy new year")
    page.locator("#section-0").get_by_label("Text (Markdown)").fill("A **fresh** start.")
    page.get_by_role("button", name="Save draft").first.click()
    page.get_by_text("Issue created.").wait_for()
    preview = page.frame_locator("#live-preview")
    preview.get_by_role("heading", name="January issue", level=1).wait_for()

    # Typing saves by itself, and the preview follows within a second or so of the pause.
    page.get_by_label("Introduction").fill("Welcome back, everyone.")
    page.get_by_text(re.compile("Saved at")).wait_for(timeout=10_000)
    preview.get_by_text("Welcome back, everyone.").wait_for(timeout=10_000)

    # Cards: add a call to action, move it above the text, then remove it.
    page.get_by_label("Kind of section").select_option("cta")
    page.get_by_role("button", name="Add this section").click()
    page.get_by_text("section added at the end. Not saved yet.").wait_for()
    card = page.locator("#section-1")
    card.get_by_label("Heading").fill("Join us")
    card.get_by_label("Button label").fill("Register")
    card.get_by_label("Button link").fill("https://example.org/register")
    page.get_by_role("button", name="Move up section 2").click()
    # The move is a round trip to the server: wait for the page it answers with.
    expect(page.locator("fieldset.card legend")).to_have_text(["1. A call to action (a button)", "2. Text"])
    page.get_by_role("button", name="Save draft").first.click()
    page.get_by_text("Saved.").wait_for()
    preview.get_by_role("link", name="Register").wait_for()
    page.get_by_role("button", name="Remove section 1").click()
    expect(page.locator("fieldset.card legend")).to_have_text(["1. Text"])

    # Leaving with unsaved changes asks first.
    asked = []

    def on_dialog(dialog):
        asked.append(dialog.type)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.get_by_role("link", name="Newsletter issues").first.click()
    page.wait_for_timeout(500)
    assert asked == ["beforeunload"] and "/edit" in page.url
    page.remove_listener("dialog", on_dialog)

    page.get_by_role("button", name="Save draft").first.click()
    page.get_by_role("link", name="Done: back to the issue").click()
    page.get_by_role("button", name="Start a new issue from this one").click()
    page.get_by_role("heading", name="Edit issue").wait_for()
    assert page.get_by_label("Title").input_value() == "Copy of January issue"
    assert page.locator("#section-0").get_by_label("Heading").input_value() == "Happy new year"


def test_the_editor_works_without_javascript(browser, peerpost):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        sign_in(page, peerpost)
        page.goto(peerpost.base + "/coordinator/issues/new")
        page.get_by_label("Title").fill("No-script issue")
        page.get_by_label("Kind of section").select_option("diary")
        page.get_by_role("button", name="Add this section").click()
        expect(page.locator("#section-1")).to_be_visible()  # the page the server answered with
        expect(page.get_by_label("Title")).to_have_value("No-script issue")  # typed text survives
        page.get_by_role("button", name="Move up section 2").click()
        expect(page.locator("fieldset.card legend")).to_have_text(["1. Dates for the diary (from events)", "2. Text"])
        page.locator("#section-1").get_by_label("Heading").fill("Notes")
        page.locator("#section-1").get_by_label("Text (Markdown)").fill("Plain words.")
        page.get_by_role("button", name="Save draft").first.click()
        page.get_by_text("Issue created.").wait_for()
        expect(page.locator("fieldset.card legend")).to_have_text(["1. Dates for the diary (from events)", "2. Text"])
    finally:
        context.close()


def test_the_editor_with_errors_the_confirmation_pages_and_an_archived_issue_pass_axe(browser, peerpost):
    from tests.browser.test_accessibility import violations

    context = browser.new_context(bypass_csp=True)  # axe is injected as a script
    page = context.new_page()
    try:
        sign_in(page, peerpost)
        page.goto(peerpost.base + "/coordinator/issues/new")
        page.get_by_label("Kind of section").select_option("image")
        page.get_by_role("button", name="Add this section").click()
        page.locator("#section-1").get_by_label("Heading").fill("A picture")
        page.get_by_role("button", name="Save draft").first.click()
        page.get_by_text("There is a problem").wait_for()
        assert violations(page) == []
        page.goto(peerpost.base + "/coordinator/issues")
        page.get_by_role("link", name="Spotlight on parents").click()
        page.get_by_role("link", name="Send now").click()
        assert violations(page) == []
        page.go_back()
        page.get_by_label("Or send at (London time)").fill("2099-07-01T09:00")
        page.get_by_role("button", name="Schedule").click()
        page.get_by_role("heading", name=re.compile("^Schedule")).wait_for()
        assert violations(page) == []
        page.go_back()
        page.get_by_role("link", name="Send now").click()
        page.get_by_role("button", name=re.compile("Yes, send it")).click()
        page.get_by_text("Done: every recipient has an outcome").wait_for(timeout=60_000)
        page.goto(peerpost.base + "/archive")
        page.get_by_role("link", name="Spotlight on parents").click()
        assert "/archive/2026-" in page.url or "/archive/20" in page.url
        assert violations(page) == []
    finally:
        context.close()


def test_upload_an_image_see_it_in_the_preview_and_a_file_that_is_not_one_refused(page, peerpost):
    from tests.functional.test_issue_images import photo

    sign_in(page, peerpost)
    page.goto(peerpost.base + "/coordinator/issues/new")
    page.get_by_label("Title").fill("Pictures issue")
    page.locator("#section-0").get_by_label("Heading").fill("Hello")
    page.locator("#section-0").get_by_label("Text (Markdown)").fill("Words.")
    page.get_by_label("Kind of section").select_option("image")
    page.get_by_role("button", name="Add this section").click()
    card = page.locator("#section-1")
    card.get_by_label("Heading").fill("Our walk")

    # Not an image: refused beside its card, with what was typed kept.
    card.get_by_label("Upload an image").set_input_files(
        {"name": "minutes.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.7 minutes"})
    page.locator("#section-1-image_file-error").get_by_text("That file is not a PNG, JPEG, WebP or GIF image.").wait_for()
    assert page.locator("#section-1").get_by_label("Heading").input_value() == "Our walk"

    # A photo: choosing it uploads it; the card shows it; the alt text is asked for.
    card = page.locator("#section-1")
    card.get_by_label("Upload an image").set_input_files(
        {"name": "walk.jpg", "mimeType": "image/jpeg", "buffer": photo(1600, 900)})
    page.get_by_text("Image uploaded for section 2. Now describe it for people who cannot see it.").wait_for()
    shown = page.locator("#section-1 img.card-image")
    assert shown.evaluate("img => img.decode().then(() => img.naturalWidth)") == 600  # once it has loaded
    page.locator("#section-1").get_by_label("Image description (alt text)").fill("Eight people in a park")
    page.get_by_role("button", name="Save draft").first.click()
    page.get_by_text("Issue created.").wait_for()
    image = page.frame_locator("#live-preview").get_by_role("img", name="Eight people in a park")
    image.wait_for()
    assert image.evaluate("img => img.decode().then(() => img.naturalWidth)") > 0
    assert "-2x.jpg 2x" in image.get_attribute("srcset")
