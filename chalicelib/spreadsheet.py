"""The one CSV writer for every export, safe to open in a spreadsheet.

A cell people typed that begins like a formula (=, +, -, @, a tab or a line break, even after
spaces) would run in Excel or Sheets (OWASP "CSV injection"), so it is written as text with a
leading apostrophe; control characters are dropped first. The standard library's csv does the
quoting.
"""
from __future__ import annotations

import csv
import io
from typing import Iterable

from chalicelib.forms import strip_controls

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


def safe_cell(value) -> str:
    """One cell: control characters dropped, then anything a spreadsheet would run kept as text."""
    text = strip_controls("" if value is None else str(value))
    return "'" + text if text.lstrip(" ")[:1] in FORMULA_STARTS or text[:1] in FORMULA_STARTS else text


class SafeWriter:
    """csv.writer over a text stream, every cell made safe: for a report written as it is made."""

    def __init__(self, stream):
        self._writer = csv.writer(stream)

    def writerow(self, row: Iterable) -> None:
        self._writer.writerow([safe_cell(value) for value in row])


def write(header: list[str], rows: Iterable[Iterable]) -> str:
    """A whole CSV document: the header, then each row with every cell made safe."""
    out = io.StringIO()
    writer = SafeWriter(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow(row)
    return out.getvalue()
