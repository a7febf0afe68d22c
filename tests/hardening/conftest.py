from tests.browser.conftest import browser, page, peerpost  # noqa: F401  (a live local server, Chromium)
