"""Issue 13's import in headless Chromium, against the local stack (the imports queue's worker runs in
it): upload a list with good and bad rows, see the guessed columns and the preview, check every row
with the progress bar, read the report, confirm, and find the confirmation emails in the outbox.
Each step's page is checked with axe-core and at phone width."""
from __future__ import annotations

import re

import pytest

from tests.browser.conftest import sign_in
from tests.browser.test_accessibility import axe_page, violations  # noqa: F401 (a fixture)
from tests.browser.test_audience import fits_a_phone
from tests.browser.test_audience_sends import shoot

pytestmark = pytest.mark.browser

LIST = (
    "Email,First name,Notes\n"
    "newcomer1@example.org,Ola,met at the March meeting\n"
    "not an address,Pat,\n"
    "newcomer2@example.org,Quinn,\n"
    "NEWCOMER1@example.org,Ola again,\n"
    "newcomer3@example.org,=SUM(A1:A2),\n"
)


def test_import_a_list_check_every_row_confirm_and_the_confirmations_arrive(axe_page, peerpost):
    page = axe_page
    sign_in(page, peerpost)
    page.goto(peerpost.base + "/coordinator/subscribers")
    page.get_by_role("link", name="Import from CSV").click()
    assert violations(page) == [] and fits_a_phone(page)

    page.get_by_role("button", name="Upload and continue").click()  # no file chosen
    assert "Choose a CSV file" in page.locator("#file-error").inner_text()
    page.get_by_label("CSV file").set_input_files(
        files=[{"name": "members.csv", "mimeType": "text/csv", "buffer": LIST.encode()}])
    page.get_by_role("button", name="Upload and continue").click()
    page.get_by_role("heading", name=re.compile("Import 5 rows from members.csv")).wait_for()
    assert page.get_by_label("Email address").input_value() == "0"  # guessed from the header
    assert page.get_by_label(re.compile("^Name")).input_value() == "1"
    assert page.get_by_role("table", name=re.compile("The first 5 rows")).is_visible()
    assert page.locator("#basis-re-permission").is_checked()  # the default basis
    assert violations(page) == [] and fits_a_phone(page)
    shoot(page, "import-columns")

    page.get_by_role("button", name="Check every row").click()
    page.get_by_role("heading", name="What will happen").wait_for(timeout=30_000)  # the worker ran
    summary = page.locator("section[aria-labelledby=confirm-title]").inner_text()
    assert "2 people will get the confirmation email" in summary
    assert "3 rows will be skipped" in summary
    report = page.get_by_role("table", name="Check of each row")
    rows = [r.inner_text() for r in report.locator("tbody tr").all()]
    assert len(rows) == 5
    assert "invalid address" in rows[1] and "duplicate in file" in rows[3]
    assert "spreadsheet formula" in rows[4]
    assert violations(page) == [] and fits_a_phone(page)
    shoot(page, "import-checked")

    button = page.get_by_role("button", name="Import and send 2 confirmation emails")
    button.dblclick()  # a double press is one import
    page.get_by_role("heading", name="Import finished").wait_for(timeout=30_000)
    assert "2 people were sent the confirmation email" in page.content().replace("<strong>", "").replace(
        "</strong>", "")
    assert violations(page) == [] and fits_a_phone(page)
    shoot(page, "import-done")
    for address in ("newcomer1@example.org", "newcomer2@example.org"):
        peerpost.wait_for_message(address, "confirm")
    sent = [m for m in peerpost.messages() if "newcomer" in str(m["to"])]
    assert len(sent) == 2  # once each, and nobody from a skipped row

    page.get_by_role("link", name="See the people imported").click()
    assert page.get_by_role("heading", name=re.compile(r"Imported: re-permission: 2 people")).is_visible()
    page.go_back()
    assert page.get_by_role("heading", name="Import finished").is_visible()
