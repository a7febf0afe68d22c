"""On a running local server too, every coordinator route refuses anyone not signed in."""
from __future__ import annotations

import re
import urllib.error
import urllib.request

from tests.conftest import OPEN_COORDINATOR_PATHS as OPEN


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_every_coordinator_route_refuses_strangers(peerpost):
    from app import app

    opener = urllib.request.build_opener(_NoRedirect)
    checked = 0
    for path, methods in app.routes.items():
        if not (path.startswith("/coordinator") or path.startswith("/api/coordinator")) or path in OPEN:
            continue
        concrete = re.sub(r"{\w+}", "x", path)
        for method, entry in methods.items():
            kind = "application/x-www-form-urlencoded"  # or what the route takes: its sign-in check is tested
            kind = kind if kind in entry.content_types else entry.content_types[0]
            request = urllib.request.Request(peerpost.base + concrete, method=method,
                                             data=b"" if method != "GET" else None,
                                             headers={"Content-Type": kind,
                                                      "Cookie": "pp_session=forged.value.here"})
            try:
                status, location = opener.open(request, timeout=10).status, ""  # nosec B310 - loopback
            except urllib.error.HTTPError as error:
                status, location = error.code, error.headers.get("Location", "")
            if method == "GET" and status == 303:
                assert location.startswith("/coordinator/sign-in"), (method, path)
            else:
                assert status in (401, 403), (method, path, status)
            checked += 1
    assert checked >= 5
