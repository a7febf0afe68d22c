"""Small HTTP helpers for event tests against a running local PeerPost."""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone

from tests.browser.conftest import COORDINATOR


def call(method: str, url: str, data: dict | None = None, token: str = "") -> tuple[int, dict]:
    body = json.dumps(data).encode() if data is not None else None
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # nosec B310 - loopback
            return response.status, _parse(response)
    except urllib.error.HTTPError as error:
        return error.code, _parse(error)


def _parse(response) -> dict:
    raw = response.read()
    is_json = "json" in (response.headers.get("Content-Type") or "")
    return json.loads(raw or b"{}") if is_json else {"html": raw.decode()}


def coordinator_token(peerpost) -> str:
    """A bearer token for the demo coordinator: her password and a fresh two-factor code (once a server)."""
    if peerpost.api_token:
        return peerpost.api_token
    status, data = call("POST", f"{peerpost.base}/api/coordinator/sessions",
                        {"email": COORDINATOR[0], "password": COORDINATOR[1], "code": peerpost.next_code()})
    assert status == 201, data
    peerpost.api_token = data["token"]
    return data["token"]


def create_event(base: str, token: str, title: str, capacity: int) -> str:
    day = (datetime.now(timezone.utc) + timedelta(days=30)).strftime("%Y-%m-%d")
    status, data = call("POST", f"{base}/api/coordinator/events", {
        "title": title, "audience": "Test attendees", "date": day, "start_time": "14:00", "end_time": "15:30",
        "venue": "K&C Mind Meeting Room", "capacity": str(capacity), "mode": "open", "waiting_list": "yes"}, token)
    assert status == 201, data
    return data["event_id"]
