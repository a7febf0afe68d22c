"""Schemathesis fuzzes the JSON API of a running local PeerPost from its own /openapi.json.

The document is generated from the request models the routes validate with, so it cannot drift.
No input may produce a 5xx. Bounded: a fixed seed and number of examples per operation.
"""
from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.browser.conftest import COORDINATOR

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


def bearer_token(peerpost) -> str:
    """Signed in through the API as the demo coordinator (password and a fresh two-factor code)."""
    request = urllib.request.Request(
        f"{peerpost.base}/api/coordinator/sessions", method="POST", headers={"Content-Type": "application/json"},
        data=json.dumps({"email": COORDINATOR[0], "password": COORDINATOR[1], "code": peerpost.next_code()}).encode())
    with urllib.request.urlopen(request, timeout=10) as response:  # nosec B310 - loopback
        return json.loads(response.read())["token"]


def test_openapi_document_lists_every_json_route(peerpost):
    with urllib.request.urlopen(f"{peerpost.base}/openapi.json", timeout=10) as response:  # nosec B310 - loopback
        document = json.loads(response.read())
    assert document["openapi"].startswith("3.")
    assert "/api/subscriptions" in document["paths"]
    assert document["components"]["schemas"]["Subscribe"]["required"]


def test_no_input_produces_a_server_error(peerpost):
    token = bearer_token(peerpost)
    result = subprocess.run(
        [str(SCHEMATHESIS), "run", f"{peerpost.base}/openapi.json", "--url", peerpost.base,
         "--checks", "not_a_server_error", "--max-examples", "20", "--seed", "20261122",
         "--request-timeout", "10", "-H", f"Authorization: Bearer {token}"],
        capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
