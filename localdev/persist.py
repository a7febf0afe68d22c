"""Local mode keeps its work: the DynamoDB table (everything PeerPost stores), the images uploaded to
the media bucket, and the signing secret, saved in a data folder inside the checkout so `make run` picks
up where it stopped.

Every couple of seconds, if anything changed, the whole table is written to a new file that then
replaces the old one in one rename (fsync'd first), so a crash or Ctrl-C loses at most the last few
seconds and never leaves a half-written store. Images are never rewritten (their keys are their
content), so each is written once, as a file under media/, in the same way. This is for one developer's machine: no locking
between two processes, no schema migration, a full rewrite each time. It is not a database.
Queues and the outbox are not kept: a restart starts them empty.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import threading
from pathlib import Path

SNAPSHOT = "table.json"
MEDIA = "media"
SECRET_FILE = "signing-secret"  # nosec B105 - the name of the file the local secret is kept in, not a secret
EVERY_SECONDS = 2.0


def _encode(value):
    """DynamoDB's wire JSON, with binary values (compressed renderings) as base64 text."""
    if isinstance(value, dict):
        return {k: (base64.b64encode(v).decode() if k == "B" else [base64.b64encode(b).decode() for b in v]
                    if k == "BS" else _encode(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    return value


def _decode(value):
    if isinstance(value, dict):
        return {k: (base64.b64decode(v) if k == "B" else [base64.b64decode(b) for b in v]
                    if k == "BS" else _decode(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


class DataFolder:
    def __init__(self, path: str | os.PathLike, table_name: str, media_bucket: str = "") -> None:
        self.path = Path(path)
        self.table_name = table_name
        self.media_bucket = media_bucket
        self._last = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def is_new(self) -> bool:
        return not (self.path / SNAPSHOT).is_file()

    def signing_secret(self) -> str:
        """The same secret across restarts, so links already in the outbox keep working."""
        self.path.mkdir(parents=True, exist_ok=True)
        secret_file = self.path / SECRET_FILE
        if not secret_file.is_file():
            self._write(secret_file, secrets.token_urlsafe(32).encode())
            os.chmod(secret_file, 0o600)
        return secret_file.read_text().strip()

    def restore_media(self, s3) -> int:
        """Put the saved images back into the (new, empty) bucket; returns how many."""
        from chalicelib import images

        folder = self.path / MEDIA
        files = [f for f in folder.rglob("*") if f.is_file() and not f.name.endswith(".partial")] if folder.is_dir() else []
        for file in files:
            key = file.relative_to(folder).as_posix()
            s3.put_object(Bucket=self.media_bucket, Key=key, Body=file.read_bytes(),
                          ContentType=images.CONTENT_TYPES.get(file.suffix.lstrip("."), "application/octet-stream"),
                          CacheControl=images.CACHE_CONTROL)
        return len(files)

    def save_media(self, s3) -> int:
        """Write each image not yet in the folder; returns how many were new."""
        written = 0
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=self.media_bucket):
            for listed in page.get("Contents", []):
                target = self.path / MEDIA / listed["Key"]
                if target.is_file() or ".." in Path(listed["Key"]).parts:
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                self._write(target, s3.get_object(Bucket=self.media_bucket, Key=listed["Key"])["Body"].read())
                written += 1
        return written

    def restore(self, client) -> int:
        """Put the saved items back into the (new, empty) table; returns how many."""
        items = json.loads((self.path / SNAPSHOT).read_text())["items"]
        for start in range(0, len(items), 25):
            request = {self.table_name: [{"PutRequest": {"Item": _decode(item)}} for item in items[start:start + 25]]}
            while request:
                request = client.batch_write_item(RequestItems=request).get("UnprocessedItems") or None
        self._last = self._digest(items)
        return len(items)

    def save(self, client) -> bool:
        """Write the table if it changed since the last save; True if it wrote."""
        items = []
        kwargs = {"TableName": self.table_name, "ConsistentRead": True}
        while True:
            page = client.scan(**kwargs)
            items.extend(_encode(item) for item in page["Items"])
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        items.sort(key=lambda item: (item["PK"]["S"], item["SK"]["S"]))
        digest = self._digest(items)
        if digest == self._last:
            return False
        self.path.mkdir(parents=True, exist_ok=True)
        self._write(self.path / SNAPSHOT, json.dumps({"format": 1, "items": items}).encode())
        self._last = digest
        return True

    @staticmethod
    def _digest(items: list) -> str:
        return hashlib.sha256(json.dumps(items, sort_keys=True).encode()).hexdigest()

    @staticmethod
    def _write(target: Path, data: bytes) -> None:
        partial = target.with_name(target.name + ".partial")
        with open(partial, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, target)  # atomic: readers see the old file or the new one, never half of one
        directory = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    def keep_saving(self, client, s3=None) -> None:
        def loop():
            while not self._stop.wait(EVERY_SECONDS):
                try:
                    self.save(client)
                    if s3 is not None:
                        self.save_media(s3)
                except Exception as exc:  # noqa: BLE001 - keep trying; the last good file stays in place
                    print(f"local data not saved this time: {type(exc).__name__}", flush=True)

        self._thread = threading.Thread(target=loop, name="local-data", daemon=True)
        self._thread.start()

    def stop(self, client, s3=None) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)
        self.save(client)
        if s3 is not None:
            self.save_media(s3)
