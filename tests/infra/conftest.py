"""The packaged artefact, built once per session (and reused while no source is newer than dist/)."""
from __future__ import annotations

import fcntl
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
SOURCES = ("app.py", "chalicelib", "templates", "infra", "localdev/stack.py", "requirements.txt", ".chalice")


def _newest_source() -> float:
    newest = 0.0
    for name in SOURCES:
        path = ROOT / name
        for item in [path, *path.rglob("*")] if path.is_dir() else [path]:
            if item.is_file() and "__pycache__" not in item.parts and "deployments" not in item.parts:
                newest = max(newest, item.stat().st_mtime)
    return newest


@pytest.fixture(scope="session")
def package():
    """dist/ from `make package`; xdist workers take turns so only one builds."""
    from infra import package as packaging

    packaging.DIST.mkdir(exist_ok=True)
    with open(packaging.DIST / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        built = [packaging.TEMPLATE, packaging.ZIP]
        if not all(p.exists() for p in built) or min(p.stat().st_mtime for p in built) < _newest_source():
            packaging.build()
    return packaging.DIST


@pytest.fixture(scope="session")
def sam(package) -> dict:
    return json.loads((package / "sam.json").read_text())
