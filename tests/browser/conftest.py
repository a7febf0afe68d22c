"""A real PeerPost (python -m localdev) on free loopback ports, and Debian's chromium via Playwright."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
COORDINATOR = ("zoe@peerpost.test", "browser-test-password")
COORDINATOR_TOTP = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # her authenticator's key (she holds every role)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LocalPeerPost:
    base: str
    outbox: str
    process: subprocess.Popen
    cookies: list | None = None  # the signed-in coordinator's, reused by later sign_in() calls
    last_step: int = -1  # the last TOTP time step used: each code works once
    api_token: str = ""  # a bearer token from the JSON sign-in, reused

    def next_code(self, secret: str = COORDINATOR_TOTP) -> str:
        """A code the server has not seen: this step's, or the next one's (within the drift it allows)."""
        import pyotp

        while int(time.time()) // 30 + 1 <= self.last_step:
            time.sleep(1)
        self.last_step = max(int(time.time()) // 30, self.last_step + 1)
        return pyotp.TOTP(secret).at(self.last_step * 30)

    def messages(self) -> list[dict]:
        with urllib.request.urlopen(f"{self.outbox}/api/messages", timeout=60) as response:  # nosec B310 - loopback
            return json.loads(response.read())

    def wait_for_message(self, to: str, subject_contains: str, timeout: float = 20.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in self.messages():
                if to in message["to"] and subject_contains in message["subject"]:
                    return message
            time.sleep(0.25)
        raise AssertionError(f"no message to {to} about {subject_contains!r}")

    def clear_outbox(self) -> None:
        request = urllib.request.Request(f"{self.outbox}/api/messages", method="DELETE")
        urllib.request.urlopen(request, timeout=60).close()  # nosec B310 - loopback


@pytest.fixture(scope="module")
def peerpost():
    port, outbox_port, moto_port = free_port(), free_port(), free_port()
    env = {**os.environ, "PEERPOST_DEMO_COORDINATOR_EMAIL": COORDINATOR[0],
           "PEERPOST_DEMO_COORDINATOR_PASSWORD": COORDINATOR[1], "PEERPOST_DEMO_COORDINATOR_TOTP": COORDINATOR_TOTP}
    env.pop("AWS_ENDPOINT_URL", None)
    # A file, not a pipe: nobody reads a pipe while tests run, and a full one would stall the server.
    log = tempfile.TemporaryFile(mode="w+")
    process = subprocess.Popen(
        [sys.executable, "-m", "localdev", "--port", str(port), "--outbox-port", str(outbox_port),
         "--moto-port", str(moto_port), "--tick", "1"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(base + "/", timeout=2).close()  # nosec B310 - loopback
            break
        except OSError:
            if process.poll() is not None:
                log.seek(0)
                raise RuntimeError(log.read())
            time.sleep(0.2)
    else:
        process.kill()
        raise RuntimeError("local PeerPost did not start in 30s")
    yield LocalPeerPost(base, f"http://127.0.0.1:{outbox_port}", process)
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    page = context.new_page()
    yield page
    context.close()


def sign_in(page, peerpost) -> None:
    """Signed in as the demo coordinator: with the session of an earlier sign-in while it lasts, or with
    her password and a fresh code."""
    if peerpost.cookies:
        page.context.add_cookies(peerpost.cookies)
        page.goto(peerpost.base + "/coordinator")
        if "/sign-in" not in page.url:
            return
    page.goto(peerpost.base + "/coordinator/sign-in")
    page.get_by_label("Email").fill(COORDINATOR[0])
    page.get_by_label("Password").fill(COORDINATOR[1])
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Code from your authenticator app").fill(peerpost.next_code())
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/coordinator")
    peerpost.cookies = [c for c in page.context.cookies() if c["name"] == "pp_session"]
