"""`make run` keeps its work: local mode's data folder (table and uploaded images) survives Ctrl-C and a crash (kill -9), the demo
content is seeded only into a new folder, and the saved store is never half-written."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.browser.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]


def start(data_dir: Path):
    ports = {"port": free_port(), "outbox": free_port(), "moto": free_port()}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PEERPOST_"))}
    process = subprocess.Popen(
        [sys.executable, "-m", "localdev", "--port", str(ports["port"]), "--outbox-port", str(ports["outbox"]),
         "--moto-port", str(ports["moto"]), "--tick", "1", "--data-dir", str(data_dir)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{ports['port']}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(base + "/", timeout=2).close()  # nosec B310 - loopback
            return process, base, ports
        except OSError:
            assert process.poll() is None, "local PeerPost stopped while starting"
            time.sleep(0.2)
    process.kill()
    raise AssertionError("local PeerPost did not start")


def items(ports) -> list[dict]:
    import boto3

    client = boto3.client("dynamodb", endpoint_url=f"http://127.0.0.1:{ports['moto']}", region_name="eu-west-2",
                          aws_access_key_id="testing", aws_secret_access_key="testing")  # nosec B106 - moto
    found, kwargs = [], {"TableName": "peerpost"}
    while True:
        page = client.scan(**kwargs)
        found += page["Items"]
        if "LastEvaluatedKey" not in page:
            return found
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


IMAGE = "images/" + "ab" * 16 + "-1x.png"


def s3(ports):
    import boto3

    return boto3.client("s3", endpoint_url=f"http://127.0.0.1:{ports['moto']}", region_name="eu-west-2",
                        aws_access_key_id="testing", aws_secret_access_key="testing")  # nosec B106 - moto


def wait_for(condition, seconds: float = 20):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.25)
    raise AssertionError("condition not met in time")


def test_local_data_survives_a_crash_and_ctrl_c_and_is_seeded_once(tmp_path):
    data = tmp_path / "data"
    process, base, ports = start(data)
    try:
        seeded = len(items(ports))
        assert seeded > 10  # the demo content
        request = urllib.request.Request(base + "/stories/new", method="POST", data=(
            b"title=Kept&text=Words+that+must+survive+a+restart.&level=private&consent=yes"),
            headers={"Content-Type": "application/x-www-form-urlencoded"})
        urllib.request.urlopen(request, timeout=10).close()  # nosec B310 - loopback
        wait_for(lambda: len(items(ports)) > seeded)
        before = len(items(ports))
        snapshot = data / "table.json"
        wait_for(lambda: len(json.loads(snapshot.read_text())["items"]) == before)
        s3(ports).put_object(Bucket="peerpost-media", Key=IMAGE, Body=b"\x89PNG kept", ContentType="image/png")
        wait_for(lambda: (data / "media" / IMAGE).is_file())
    finally:
        process.send_signal(signal.SIGKILL)  # a crash: no chance to save on the way out
        process.wait(timeout=10)

    process, base, ports = start(data)
    try:
        after = items(ports)
        assert len(after) == before  # everything back, and the demo not seeded a second time
        assert any("Words that must survive a restart." in json.dumps(i) for i in after)
        with urllib.request.urlopen(f"{base}/media/{IMAGE}", timeout=10) as served:  # nosec B310 - loopback
            assert served.read() == b"\x89PNG kept" and served.headers["Content-Type"] == "image/png"
            assert "immutable" in served.headers["Cache-Control"]
    finally:
        process.send_signal(signal.SIGINT)  # Ctrl-C: saves once more and stops
        assert process.wait(timeout=90) == 0  # generous: on a busy machine the last save and shutdown can be slow
    assert len(json.loads((data / "table.json").read_text())["items"]) == before
    assert not list(data.glob("*.partial"))
