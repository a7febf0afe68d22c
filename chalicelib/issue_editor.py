"""The issue editor's form: section cards read from the submitted fields, and the card actions
(add, move up, move down, remove) that work without JavaScript. Pure: no AWS, no HTTP."""
from __future__ import annotations

from chalicelib.issues import MAX_SECTIONS, SECTION_FIELDS, SECTION_KINDS

CARD_FIELDS = ("kind", "heading", "body", "image_url", "image_alt", "cta_label", "cta_url", "story_id")


def rows_from_form(data: dict) -> list[dict]:
    """Every card as submitted, in the order shown, blank ones included (the editor keeps them)."""
    try:
        total = min(int(data.get("section_count", 0)), MAX_SECTIONS + 5)
    except (TypeError, ValueError):
        total = 0
    rows = []
    for n in range(total):
        row = {f: str(data.get(f"section-{n}-{f}", "")).strip() for f in CARD_FIELDS}
        if row["kind"] in SECTION_KINDS:
            rows.append(row)
    return rows


def new_row(kind: str) -> dict:
    return {**{f: "" for f in CARD_FIELDS}, "kind": kind}


def rows_from_issue(issue: dict) -> list[dict]:
    return [{f: str(section.get(f, "")) for f in CARD_FIELDS} for section in issue.get("sections", [])]


def blank(row: dict) -> bool:
    """A card nothing was written in: it is dropped when the issue is saved."""
    if row["kind"] == "diary":
        return False
    return not any(row.get(f) for f in SECTION_FIELDS[row["kind"]] if f != "kind")


def for_saving(rows: list[dict]) -> list[dict]:
    return [row for row in rows if not blank(row)]


def apply(rows: list[dict], action: str, add_kind: str = "") -> tuple[list[dict], str]:
    """A card action on the cards as submitted; returns the new cards and what happened, in words."""
    rows = list(rows)
    verb, _, number = action.partition("-")
    if verb == "add":
        if add_kind not in SECTION_KINDS:
            return rows, "Choose which kind of section to add."
        if len(rows) >= MAX_SECTIONS:
            return rows, f"An issue can have at most {MAX_SECTIONS} sections."
        rows.append(new_row(add_kind))
        return rows, f"{SECTION_KINDS[add_kind]} section added at the end."
    try:
        index = int(number)
    except ValueError:
        return rows, ""
    if not 0 <= index < len(rows):
        return rows, ""
    if verb == "remove":
        rows.pop(index)
        return rows, f"Section {index + 1} removed."
    target = index - 1 if verb == "up" else index + 1 if verb == "down" else None
    if target is None or not 0 <= target < len(rows):
        return rows, ""
    rows[index], rows[target] = rows[target], rows[index]
    return rows, f"Section moved {'up' if verb == 'up' else 'down'} to position {target + 1}."
