"""Load: 200 concurrent clients against a local PeerPost on loopback, a fixed number of requests.

Mixes newsletter sign-ups, registrations for the last places of an event, and story submissions.
Reports throughput, p50/p99 latency, errors and overbooking; merges the figures into
bench/results.json. Run with `make bench` (or `.venv/bin/python -m bench.run_load`).
Rate limits are raised for this run only: it measures throughput, not the limits (tests do that).
"""
from __future__ import annotations

import itertools
import json
import os
import statistics
import subprocess  # nosec B404
import sys
import threading
import time
import urllib.error
import urllib.request

from bench import record
from chalicelib import two_factor
from tests.browser.conftest import COORDINATOR, COORDINATOR_TOTP, free_port

CLIENTS = 200
REQUESTS = 1000
CAPACITY = 20


def start_server():
    from pathlib import Path

    port, outbox, moto = free_port(), free_port(), free_port()
    env = {**os.environ, "PEERPOST_DEMO_COORDINATOR_EMAIL": COORDINATOR[0],
           "PEERPOST_DEMO_COORDINATOR_PASSWORD": COORDINATOR[1], "PEERPOST_DEMO_COORDINATOR_TOTP": COORDINATOR_TOTP,
           "PEERPOST_RATE_LIMIT_PER_CLIENT": "1000000", "PEERPOST_RATE_LIMIT_PER_ADDRESS": "1000000",
           "PEERPOST_EVENT_REGISTRATIONS_PER_CLIENT": "1000000", "PEERPOST_STORY_RATE_LIMIT_PER_CLIENT": "1000000"}
    # Our own module with arguments we build: nothing untrusted reaches the command line.
    process = subprocess.Popen(  # nosec B603
        [sys.executable, "-m", "localdev", "--port", str(port), "--outbox-port", str(outbox),
         "--moto-port", str(moto), "--tick", "3600"],
        cwd=Path(__file__).resolve().parents[1], env=env, stdout=open(Path(__file__).with_name("load-server.log"), "w"),
        stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            urllib.request.urlopen(base + "/", timeout=2).close()  # nosec B310 - loopback
            return process, base
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("local PeerPost did not start")


def call(method: str, url: str, data: dict | None = None, token: str | None = None) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, method=method, headers=headers,
                                     data=json.dumps(data).encode() if data is not None else None)
    try:
        with urllib.request.urlopen(request, timeout=120) as response:  # nosec B310 - loopback
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, {}


def requests_for(base: str, event_id: str):
    for n in itertools.count():
        kind = ("signup", "signup", "register", "story")[n % 4]
        if kind == "signup":
            yield kind, f"{base}/api/subscriptions", {
                "email": f"load{n}@example.org", "first_name": "Load", "topics": ["newsletter"], "consent": True}
        elif kind == "register":
            yield kind, f"{base}/events/{event_id}/register", {"name": f"Load Tester {n}", "email": f"reg{n}@example.org"}
        else:
            yield kind, f"{base}/api/stories", {
                "title": f"My peer support {n}", "text": "Peer support helped me find my feet again. " * 20,
                "level": "anonymous", "channels": ["newsletter"], "consent": True}


def run() -> dict:
    process, base = start_server()
    try:
        token = call("POST", f"{base}/api/coordinator/sessions",
                     {"email": COORDINATOR[0], "password": COORDINATOR[1],
                      "code": two_factor.current_code(COORDINATOR_TOTP)})[1]["token"]
        day = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 30 * 86400))
        status, event = call("POST", f"{base}/api/coordinator/events", {
            "title": "Load test meeting", "audience": "Everyone", "date": day, "start_time": "10:00",
            "end_time": "11:00", "venue": "Loopback", "capacity": str(CAPACITY), "mode": "open",
            "waiting_list": "yes"}, token)
        if status != 201:
            raise RuntimeError(f"could not create the load-test event: HTTP {status}")
        work = iter(itertools.islice(requests_for(base, event["event_id"]), REQUESTS))
        lock = threading.Lock()
        latencies: dict[str, list[float]] = {"signup": [], "register": [], "story": []}
        errors: list[tuple[str, int]] = []

        def client() -> None:
            while True:
                with lock:
                    item = next(work, None)
                if item is None:
                    return
                kind, url, body = item
                started = time.perf_counter()
                status, _ = call("POST", url, body)
                elapsed = (time.perf_counter() - started) * 1000
                with lock:
                    latencies[kind].append(elapsed)
                    if status not in (200, 201, 202):
                        errors.append((kind, status))

        threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - started
        _, final = call("GET", f"{base}/api/coordinator/events/{event['event_id']}", token=token)
        registrations = len(latencies["register"])
        everything = sorted(itertools.chain(*latencies.values()))
        figures = {
            "load_clients": CLIENTS, "load_requests": REQUESTS,
            "load_throughput_rps": round(REQUESTS / wall, 1),
            "load_p50_ms": round(statistics.median(everything), 1),
            "load_p99_ms": round(everything[int(len(everything) * 0.99) - 1], 1),
            "load_errors": len(errors),
            "load_event_confirmed": final["confirmed"], "load_event_waiting": final["waiting"],
            "load_overbooked": max(0, final["confirmed"] - CAPACITY),
            "load_registrations_lost": registrations - final["confirmed"] - final["waiting"],
        }
        print(f"{'figure':<28}{'value':>12}")
        for name, value in figures.items():
            print(f"{name:<28}{value:>12}")
        for kind, values in latencies.items():
            values.sort()
            print(f"  {kind:<10} n={len(values):<5} p50={statistics.median(values):7.1f} ms  "
                  f"p99={values[int(len(values) * 0.99) - 1]:7.1f} ms")
        if errors:
            print("errors:", errors[:10])
        return figures
    finally:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()


if __name__ == "__main__":
    record(run())
