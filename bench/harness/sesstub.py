"""A loopback stand-in for SES v2 SendEmail (POST /v2/email/outbound-emails), as SES behaves.

- Maximum send rate, counted in recipients the way SES counts them: a token bucket that refills at
  `rate` recipients a second and holds one second's worth; above it, 429 TooManyRequestsException
  ("Maximum sending rate exceeded."), and nothing is sent.
- Latency drawn uniformly from [latency_ms] for every call.
- Injected faults, each at its own share of calls: `throttle_share` answers 429 whatever the rate;
  `error_share` answers 500 InternalFailure (nothing sent); `timeout_share` accepts the message and
  then drops the connection without answering (the sender cannot know it was sent).
- Records every accepted message (recipients, time); GET /_stub/stats answers with all of it.
"""
from __future__ import annotations

import base64
import json
import random
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Quota:
    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.capacity = max(1.0, rate)
        self.tokens = self.capacity
        self.at = time.monotonic()
        self.lock = threading.Lock()

    def take(self, n: int) -> bool:
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.rate)
            self.at = now
            if self.tokens >= n:
                self.tokens -= n
                return True
            return False


class Stub:
    def __init__(self, rate: float, latency_ms: tuple[float, float] = (20, 80), throttle_share: float = 0.0,
                 error_share: float = 0.0, timeout_share: float = 0.0, seed: int = 16) -> None:
        self.quota = Quota(rate)
        self.latency_ms = latency_ms
        self.throttle_share, self.error_share, self.timeout_share = throttle_share, error_share, timeout_share
        self.random = random.Random(seed)  # nosec B311 - fault injection, not security
        self.lock = threading.Lock()
        self.calls = self.throttled = self.errors = self.timeouts = 0
        self.accepted: list[tuple[float, str]] = []  # (unix time, recipient)

    def decide(self, recipients: int) -> str:
        with self.lock:
            self.calls += 1
            roll = self.random.random()
        if roll < self.throttle_share:
            return "throttle"
        roll -= self.throttle_share
        if roll < self.error_share:
            return "error"
        roll -= self.error_share
        if not self.quota.take(recipients):
            return "throttle"
        return "timeout" if roll < self.timeout_share else "accept"

    def stats(self) -> dict:
        with self.lock:
            return {"calls": self.calls, "throttled": self.throttled, "errors": self.errors,
                    "timeouts": self.timeouts, "accepted": list(self.accepted)}


def _handler(stub: Stub):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # The answer goes out in two writes, headers then body. With Nagle's algorithm the body waits for
        # the client's ACK of the headers, which the client delays by up to 40 ms: every call took 44 ms
        # at a configured latency of 0, and a sender alone at the end of a send crawled. SES has no such wait.
        disable_nagle_algorithm = True

        def log_message(self, *args) -> None:  # quiet
            pass

        def _answer(self, status: int, body: dict, error_type: str = "") -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
            if error_type:
                self.send_header("x-amzn-ErrorType", error_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path == "/_stub/stats":
                self._answer(200, stub.stats())
            else:
                self._answer(404, {"message": "not found"}, "NotFoundException")

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            if self.path == "/v2/email/identities":  # the local stack verifies its sending domain first
                self._answer(200, {"IdentityType": "DOMAIN", "VerifiedForSendingStatus": True})
                return
            if self.path != "/v2/email/outbound-emails":
                self._answer(404, {"message": "not found"}, "NotFoundException")
                return
            destination = body.get("Destination", {})
            recipients = [*destination.get("ToAddresses", ()), *destination.get("CcAddresses", ()),
                          *destination.get("BccAddresses", ())]
            if not recipients or not base64.b64decode(body.get("Content", {}).get("Raw", {}).get("Data", "")):
                self._answer(400, {"message": "Missing recipients or content"}, "BadRequestException")
                return
            time.sleep(stub.random.uniform(*stub.latency_ms) / 1000)
            outcome = stub.decide(len(recipients))
            if outcome == "throttle":
                with stub.lock:
                    stub.throttled += 1
                self._answer(429, {"message": "Maximum sending rate exceeded."}, "TooManyRequestsException")
                return
            if outcome == "error":
                with stub.lock:
                    stub.errors += 1
                self._answer(500, {"message": "Internal failure"}, "InternalFailure")
                return
            with stub.lock:
                stub.accepted.extend((time.time(), r) for r in recipients)
                if outcome == "timeout":
                    stub.timeouts += 1
            if outcome == "timeout":
                self.close_connection = True  # sent, but the answer never arrives
                return
            self._answer(200, {"MessageId": f"stub-{uuid.uuid4().hex}"})

    return Handler


def serve(stub: Stub, port: int = 0) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", port), _handler(stub))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="ses-stub", daemon=True).start()
    return server


def main(argv: list[str] | None = None) -> None:
    """Run the stub in its own process (the harness does): prints the port, serves until killed."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, required=True)
    parser.add_argument("--latency-ms", type=float, nargs=2, default=(20, 80))
    parser.add_argument("--throttle-share", type=float, default=0.0)
    parser.add_argument("--error-share", type=float, default=0.0)
    parser.add_argument("--timeout-share", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=16)
    args = parser.parse_args(argv)
    server = serve(Stub(args.rate, tuple(args.latency_ms), args.throttle_share, args.error_share,
                        args.timeout_share, args.seed))
    print(server.server_address[1], flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
