"""axe-core (from npm) in headless Chromium finds no serious or critical violations on any page.

Pages are found by crawling links from the home page and, signed in, from the coordinator
overview, so every new page is checked without being listed here.
"""
from __future__ import annotations

from pathlib import Path
from urllib.parse import urljoin, urlparse

import pytest
from playwright.sync_api import Error as PlaywrightError

from tests.browser.conftest import sign_in

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
SKIP = ("/static/", ".csv", ".ics", ".json", "/sign-out", "/export")
MAX_PAGES = 40


def violations(page) -> list[dict]:
    page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
             .map(v => ({id: v.id, impact: v.impact, help: v.help,
                         targets: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))""")
    return [v for v in found if v["impact"] in ("serious", "critical")]


def pages(page, base: str, start: str, within: str = ""):
    """Every HTML page reached by links from `start` (only under `within`, if given), each yielded
    while the browser shows it."""
    seen, queue = set(), [start]
    while queue and len(seen) < MAX_PAGES:
        path = queue.pop(0)
        if path in seen:
            continue
        seen.add(path)
        try:
            response = page.goto(base + path)
        except PlaywrightError as error:  # exports answer with a download, not a page
            if "Download is starting" in str(error):
                continue
            raise
        if response is None or response.status >= 400 or "text/html" not in response.headers.get("content-type", ""):
            continue
        links = page.eval_on_selector_all("a[href]", "links => links.map(a => a.getAttribute('href'))")
        yield path
        for href in links:
            target = urlparse(urljoin(base + path, href))
            if (target.netloc == urlparse(base).netloc and target.path.startswith(within)
                    and not any(s in target.path for s in SKIP)):
                queue.append(target.path)


def crawl(page, base: str, start: str) -> dict[str, list[dict]]:
    problems, checked = {}, 0
    for path in pages(page, base, start):
        checked += 1
        found = violations(page)
        if found:
            problems[path] = found
    assert checked > 1
    return problems


@pytest.fixture
def axe_page(browser):
    context = browser.new_context(bypass_csp=True)  # axe is injected as a script; PeerPost's CSP would refuse it
    yield context.new_page()
    context.close()


def test_public_pages(axe_page, peerpost):
    assert crawl(axe_page, peerpost.base, "/") == {}


def test_form_with_errors(axe_page, peerpost):
    axe_page.goto(peerpost.base + "/subscribe")
    axe_page.get_by_role("button", name="Subscribe").click()
    axe_page.get_by_text("There is a problem").wait_for()
    assert violations(axe_page) == []


def test_coordinator_pages(axe_page, peerpost):
    sign_in(axe_page, peerpost)
    assert crawl(axe_page, peerpost.base, "/coordinator") == {}


def test_the_check_can_fail(axe_page):
    axe_page.set_content("<html><body><img src='x.png'><input type='text'></body></html>")
    assert {v["id"] for v in violations(axe_page)} >= {"image-alt"}


def test_rendered_newsletter(axe_page, peerpost):
    """The demo issue as subscribers receive it (the exact HTML the preview frames show)."""
    import re

    sign_in(axe_page, peerpost)
    axe_page.goto(peerpost.base + "/coordinator/issues")
    hrefs = axe_page.eval_on_selector_all("a[href]", "links => links.map(a => a.getAttribute('href'))")
    issue = next(h for h in hrefs if re.fullmatch(r"/coordinator/issues/[^/]+", h) and not h.endswith("/new"))
    axe_page.goto(peerpost.base + issue + "/preview.html")
    assert "Dates for the diary" in axe_page.content()
    assert violations(axe_page) == []


def coordinator_pages(page, base: str) -> list[str]:
    """Every coordinator page linked from the overview and from the lists it links to."""
    return list(pages(page, base, "/coordinator", within="/coordinator"))


def test_no_coordinator_page_scrolls_sideways_on_a_phone(browser, peerpost):
    context = browser.new_context(viewport={"width": 375, "height": 740})
    page = context.new_page()
    try:
        sign_in(page, peerpost)
        pages = coordinator_pages(page, peerpost.base)
        assert len(pages) >= 6 and any("/coordinator/stories/" in p for p in pages)
        wide = {}
        for path in pages:
            page.goto(peerpost.base + path)
            width = page.evaluate("document.documentElement.scrollWidth")
            if width > 375:
                wide[path] = width
        assert wide == {}
    finally:
        context.close()
