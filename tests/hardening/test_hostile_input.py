"""A corpus of hostile input goes through every public and coordinator form of a running PeerPost.

Forms are discovered by crawling, so new forms are covered without being listed. Nothing may
produce a 5xx, execute, break out of its markup, or be evaluated as a template, in pages or emails.
"""
from __future__ import annotations

import http.cookiejar
import re
import urllib.error
import urllib.parse
import urllib.request
from html.parser import HTMLParser

from tests.browser.conftest import COORDINATOR

SCRIPT = '<script>alert("pp")</script>'
CORPUS = [
    SCRIPT,
    '"><img src=x onerror=alert("pp")>',
    "{{ 9187*3 }}",
    "{% for x in range(3) %}pp-loop{% endfor %}",
    "javascript:alert('pp')",
    "a\r\nBcc: victim@example.org",
    "x" * 300_000,
]
EVALUATED = ["27561", "pp-looppp-loop"]  # what the template payloads would print if evaluated
SKIP_ACTIONS = ("/sign-out",)
SKIP_LINKS = ("/static/", ".csv", ".ics", ".json", "/sign-out", "/export")


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict] = []
        self.links: list[str] = []
        self._form: dict | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        elif tag == "form":
            self._form = {"action": a.get("action", ""), "method": (a.get("method") or "get").lower(), "fields": []}
            self.forms.append(self._form)
        elif self._form is not None and tag in ("input", "textarea", "select") and a.get("name"):
            self._form["fields"].append({"tag": tag, "type": (a.get("type") or "text").lower(), "name": a["name"],
                                         "value": a.get("value", "")})
        elif self._form is not None and tag == "option" and self._form["fields"]:
            field = self._form["fields"][-1]
            if field["tag"] == "select" and not field.get("option"):
                field["option"] = a.get("value", "")

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None


class _Active(HTMLParser):
    """Finds markup that would run: PeerPost's pages and emails have no inline scripts and no inline
    handlers; the only scripts are its own files under /static/ (the CSP allows nothing else)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "script" and not re.fullmatch(r"/static/[\w.-]+\.js", dict(attrs).get("src") or ""):
            self.found.append("<script>")
        self.found += [f"<{tag} {name}=...>" for name, _ in attrs if name.startswith("on")]
        self.found += [f"<{tag} {name}=javascript:>" for name, value in attrs
                       if name in ("href", "src", "action") and (value or "").strip().lower().startswith("javascript:")]


def breakouts(markup: str) -> list[str]:
    parser = _Active()
    parser.feed(markup)
    return parser.found + [text for text in EVALUATED if text in markup]


class Browser:
    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def request(self, path: str, data: dict | None = None) -> tuple[int, str]:
        body = urllib.parse.urlencode(data, doseq=True).encode() if data is not None else None
        req = urllib.request.Request(urllib.parse.urljoin(self.base, path), data=body)
        try:
            with self.opener.open(req, timeout=30) as response:  # nosec B310 - loopback
                return response.status, response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode("utf-8", "replace")


_counter = iter(range(1_000_000))


def filled(form: dict, payload: str, email: str | None = None) -> dict:
    data: dict[str, list[str]] = {}
    for field in form["fields"]:
        kind, name = field["type"], field["name"]
        if kind == "hidden" or name == "website":
            value = field["value"] if name != "website" else ""
        elif kind == "checkbox" or kind == "radio":
            value = field["value"] or "on"
        elif field["tag"] == "select":
            value = field.get("option", "")
        elif kind == "email":
            value = email or f"hostile{next(_counter)}@example.org"
        elif kind in ("number",):
            value = "1"
        elif kind in ("datetime-local", "date", "time"):
            value = field["value"] or "2030-01-01T10:00"
        else:
            value = payload
        data.setdefault(name, []).append(value)
    return data


def forms_by_crawling(browser: Browser, start: str, limit: int = 40) -> list[tuple[str, dict]]:
    seen, queue, found = set(), [start], []
    while queue and len(seen) < limit:
        path = queue.pop(0)
        if path in seen:
            continue
        seen.add(path)
        status, page = browser.request(path)
        if status >= 400:
            continue
        parser = _Forms()
        parser.feed(page)
        found += [(path, f) for f in parser.forms if f["method"] == "post"
                  and not any(s in f["action"] for s in SKIP_ACTIONS)]
        for href in parser.links:
            target = urllib.parse.urlparse(urllib.parse.urljoin(browser.base + path, href))
            if target.netloc == urllib.parse.urlparse(browser.base).netloc and not any(s in target.path for s in SKIP_LINKS):
                queue.append(target.path)
    return found


def attack(browser: Browser, forms: list[tuple[str, dict]]) -> list[str]:
    problems = []
    for page_path, form in forms:
        action = form["action"] or page_path
        attempts = [filled(form, payload) for payload in CORPUS] + [filled(form, SCRIPT, email=SCRIPT)]
        for payload, data in zip([*CORPUS, SCRIPT], attempts):
            status, body = browser.request(action, data)
            if status >= 500:
                problems.append(f"{action}: {status} for {payload[:40]!r}")
            problems += [f"{action}: {found} for {payload[:40]!r}" for found in breakouts(body)]
    return problems


def test_public_forms_resist_hostile_input(peerpost):
    browser = Browser(peerpost.base)
    forms = forms_by_crawling(browser, "/")
    assert len(forms) >= 2
    assert attack(browser, forms) == []


def test_coordinator_forms_resist_hostile_input(peerpost):
    browser = Browser(peerpost.base)
    status, _ = browser.request("/coordinator/sign-in", {"email": COORDINATOR[0], "password": COORDINATOR[1]})
    assert status == 200
    forms = forms_by_crawling(browser, "/coordinator")
    assert attack(browser, forms) == []


def test_emails_never_carry_hostile_markup_raw(peerpost):
    messages = peerpost.messages()
    assert messages
    for message in messages:
        assert breakouts(message["html"]) == [], message["subject"]
        assert [text for text in EVALUATED if text in message["text"]] == []
        assert "Bcc" not in message["headers"]


def test_the_check_can_fail():
    assert breakouts('<p>ok</p><img src=x onerror=alert(1)><a href="javascript:x">') != []
    assert breakouts('<script>alert(1)</script>') != [] and breakouts('<script src="//evil.example/x.js"></script>') != []
    assert breakouts('<script src="/static/editor.js"></script>') == []
    assert breakouts("<p>&lt;script&gt; value=\"onerror=alert\"</p>") == []


# ---------------------------------------------------------------- bodies and addresses built to break the server

def _raw(base: str, method: str, path: str, body: bytes | None = None, headers: dict | None = None) -> tuple[int, dict, str]:
    request = urllib.request.Request(base + path, data=body, method=method, headers=headers or {})
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=30) as response:  # nosec B310 - loopback
            return response.status, dict(response.headers), response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode("utf-8", "replace")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_every_json_route_refuses_deep_nesting_and_lone_surrogates_with_a_400(peerpost):
    import json

    from tests.hardening.test_api_fuzz import bearer_token

    token = bearer_token(peerpost)
    with urllib.request.urlopen(f"{peerpost.base}/openapi.json", timeout=10) as response:  # nosec B310 - loopback
        document = json.loads(response.read())
    bodies = {"deep": ('{"a": ' + "[" * 100_000 + "]" * 100_000 + "}").encode(),
              "surrogate": b'{"email": "sam@example.org", "title": "\\ud800", "name": "\\udfff", "password": "\\ud800"}'}
    checked = []
    for path, operations in document["paths"].items():
        if "post" not in operations:
            continue
        concrete = re.sub(r"{\w+}", "x", path)
        for kind, body in bodies.items():
            status, _, text = _raw(peerpost.base, "POST", concrete, body,
                                   {"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
            assert status == 400, (path, kind, status, text[:200])
            checked.append(path)
    assert len(set(checked)) >= 4


def test_a_non_ascii_return_address_signs_in_without_dropping_the_connection(peerpost):
    body = urllib.parse.urlencode({"email": COORDINATOR[0], "password": COORDINATOR[1],
                                   "next": "/coordinator/stories?status=née"}).encode()
    status, headers, _ = _raw(peerpost.base, "POST", "/coordinator/sign-in", body,
                              {"Content-Type": "application/x-www-form-urlencoded"})
    # On to the second factor, which then returns her to that address, percent-encoded.
    assert status == 303 and headers["Location"] == (
        "/coordinator/sign-in/code?next=" + urllib.parse.quote("/coordinator/stories?status=n%C3%A9e", safe=""))


def test_unknown_addresses_are_a_404_page(peerpost):
    for path in ("/favicon.ico", "/robots.txt", "/no-such-page", "/a/b/c/deeper", "/coordinator/no/such/page"):
        status, headers, text = _raw(peerpost.base, "GET", path)
        assert status == 404 and headers["Content-Type"].startswith("text/html"), path
        assert "There is no page at this address" in text


def test_a_form_address_opened_in_a_new_tab_is_a_page(peerpost):
    status, headers, text = _raw(peerpost.base, "GET", "/events/x/register")
    assert status == 405 and headers["Content-Type"].startswith("text/html") and 'href="/events/x"' in text
