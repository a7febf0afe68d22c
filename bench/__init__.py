"""Benchmarks for `make bench`. Each script merges its figures into bench/results.json."""
from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results.json"


def record(figures: dict) -> dict:
    """Merge figures into bench/results.json (a flat object) and return the whole of it."""
    current = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    current.update(figures)
    RESULTS.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")
    return current


def report(figures: dict, note: str = "") -> None:
    """The tail every benchmark shares: merge its figures into results.json, print them, then its target."""
    record(figures)
    width = max(map(len, figures), default=0) + 2
    for name, value in sorted(figures.items()):
        print(f"{name:{width}} {value}")
    if note:
        print(note)
