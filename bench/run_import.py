"""Import benchmark: 10,000 rows through the import routes and the imports worker, against moto in-process.

- import_10k_seconds_evidence: wall time from the upload (POST /coordinator/import) to the import's page
  saying it is finished: columns chosen, every row checked (the queued check), confirmed, every row
  imported (the queued import), "imported with evidence" (no email). Target: under 60 s.
- import_10k_seconds_re_permission: the same with 10,000 confirmation emails rendered and sent through
  moto's SES with no rate limit (the bench's SES rate is unlimited). No target: deployed, the imports
  pacer keeps to the SES quota, so 10,000 confirmations take 10,000 / rate seconds (12 minutes at 14/s).
- import_2k_transient_peak_mb, import_10k_transient_peak_mb: the largest Python allocation (tracemalloc)
  over the whole evidence import, upload included, less what is still allocated at the end. moto runs
  in this process and keeps every item it stores, so the traced peak grows with the rows stored; the
  part above that is the import's own working set. Flat means the two are about equal. The upload is
  held once by the web request (4 MB at most); the worker streams the file from S3 a piece at a time
  and reads the table 100 rows at a time, keeping only the set of keyed hashes already seen.
"""
from __future__ import annotations

import sys
import time
import tracemalloc

from bench import record
from bench.run_newsletter import REGION, configure, discard_sent_mail

ROWS = 10_000
TARGET_SECONDS = 60.0
BOUNDARY = "benchboundary"
COORDINATOR = ("bench@peerpost.test", "correct horse battery staple")


def csv_bytes(rows: int) -> bytes:
    lines = ["email,first name,topics"]
    for n in range(rows):
        lines.append(f"reader{n:05d}@example.org,Reader{n:05d},newsletter" if n % 50 else f"not-an-address-{n},X,")
    return ("\n".join(lines) + "\n").encode()


def multipart(fields: dict, data: bytes) -> bytes:
    parts = [f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
             for k, v in fields.items()]
    parts.append(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="list.csv"\r\n'
                 'Content-Type: text/csv\r\n\r\n'.encode() + data + b"\r\n")
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def one_import(basis: str, rows: int = ROWS, trace: bool = False) -> tuple[float, float]:
    import re

    import boto3
    from chalice.app import SQSEventConfig
    from chalice.test import Client
    from moto import mock_aws

    from chalicelib import auth, aws, roles, settings
    from localdev import stack
    from localdev.runner import Runner

    settings.reset()
    aws.reset()
    with mock_aws():
        stack.create_all(boto3.session.Session(region_name=REGION))
        from app import app

        runner = Runner(app, boto3.session.Session(region_name=REGION))
        [config] = [c for c in app.event_sources if isinstance(c, SQSEventConfig) and c.name == "import_subscribers"]
        auth.create_coordinator(*COORDINATOR, name="Bench", granted=(roles.EDITOR,))  # no second factor needed
        with Client(app) as client:
            form = {"Content-Type": "application/x-www-form-urlencoded"}
            signed = client.http.post("/coordinator/sign-in", headers=form,
                                      body=f"email={COORDINATOR[0]}&password={COORDINATOR[1].replace(' ', '+')}")
            cookie = signed.headers["Set-Cookie"].split(";")[0]
            csrf = auth.authenticate(cookie.split("=", 1)[1]).csrf_token
            headers = {"Cookie": cookie}
            data = csv_bytes(rows)
            if trace:
                tracemalloc.start()
            started = time.perf_counter()
            response = client.http.post("/coordinator/import", headers={
                **headers, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
                body=multipart({"csrf_token": csrf, "submission": f"bench-{basis}"}, data))
            job = response.headers["Location"]
            evidence = ("&evidence_source=paper+forms&evidence_date=2025-03-14&evidence_wording=Yes+please"
                        if basis == "evidence" else "")
            client.http.post(f"{job}/choices", headers={**headers, **form},
                             body=f"csrf_token={csrf}&email_column=0&name_column=1&topics_column=2"
                                  f"&topics=newsletter&basis={basis}{evidence}")
            while runner.drain(config, wait_seconds=0):
                pass
            page = client.http.get(job, headers=headers).body.decode()
            version = re.search(r'name="version" value="(\d+)"', page).group(1)
            client.http.post(f"{job}/start", headers={**headers, **form}, body=f"csrf_token={csrf}&version={version}")
            while runner.drain(config, wait_seconds=0):
                pass
            page = client.http.get(job, headers=headers).body.decode()
            seconds = time.perf_counter() - started
            current, peak = tracemalloc.get_traced_memory() if trace else (0, 0)
            transient = (peak - current) / 2**20
            tracemalloc.stop()
            if "Import finished" not in page:
                raise RuntimeError("the import did not finish")
        discard_sent_mail()
    return seconds, transient


def main() -> int:
    configure()
    figures = {}
    for basis in ("re-permission", "evidence"):
        seconds, _ = one_import(basis)
        figures[f"import_10k_seconds_{basis.replace('-', '_')}"] = round(seconds, 2)
    # Traced separately (tracemalloc slows Python down): the peak at 2,000 and at 10,000 rows.
    for rows in (2_000, ROWS):
        figures[f"import_{rows // 1000}k_transient_peak_mb"] = round(one_import("evidence", rows, trace=True)[1], 1)
    record(figures)
    print(f"{'figure':40} {'value':>10}   target")
    for name, value in figures.items():
        target = f"< {TARGET_SECONDS:g}" if name == "import_10k_seconds_evidence" else ""
        print(f"{name:40} {value:>10}   {target}")
    slow = [n for n, v in figures.items() if n == "import_10k_seconds_evidence" and v >= TARGET_SECONDS]
    return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main())
