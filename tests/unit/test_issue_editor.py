"""The editor's card actions, without AWS or HTTP: what a coordinator's button press does to the cards."""
from __future__ import annotations

from chalicelib import issue_editor


def cards(*kinds: str) -> list[dict]:
    return [{**issue_editor.new_row(kind), "heading": f"{kind} {n}"} for n, kind in enumerate(kinds)]


def test_move_up_and_down_swap_neighbours_and_stop_at_the_ends():
    rows = cards("text", "story", "diary")
    moved, said = issue_editor.apply(rows, "up-2")
    assert [r["kind"] for r in moved] == ["text", "diary", "story"] and said == "Section moved up to position 2."
    assert issue_editor.apply(rows, "up-0")[0] == rows and issue_editor.apply(rows, "down-2")[0] == rows
    assert [r["kind"] for r in issue_editor.apply(rows, "down-0")[0]] == ["story", "text", "diary"]
    assert rows == cards("text", "story", "diary")  # the cards as submitted are not changed in place


def test_add_and_remove_and_nonsense_actions():
    rows = cards("text")
    added, said = issue_editor.apply(rows, "add", "cta")
    assert added[-1]["kind"] == "cta" and said == "A call to action (a button) section added at the end."
    assert issue_editor.apply(rows, "add", "video")[1] == "Choose which kind of section to add."
    assert issue_editor.apply(rows, "remove-0") == ([], "Section 1 removed.")
    for action in ("remove-7", "up-x", "sideways-0", ""):
        assert issue_editor.apply(rows, action) == (rows, "")
    full = cards(*["text"] * issue_editor.MAX_SECTIONS)
    assert issue_editor.apply(full, "add", "text")[1].startswith("An issue can have at most")


def test_blank_cards_are_kept_in_the_editor_and_dropped_on_save():
    rows = [issue_editor.new_row("text"), issue_editor.new_row("diary"), {**issue_editor.new_row("image"), "body": "x"}]
    assert [issue_editor.blank(r) for r in rows] == [True, False, False]
    assert [r["kind"] for r in issue_editor.for_saving(rows)] == ["diary", "image"]


def test_rows_from_the_form_keep_order_and_ignore_unknown_kinds():
    data = {"section_count": "3", "section-0-kind": "story", "section-0-story_id": "abc",
            "section-1-kind": "<script>", "section-2-kind": "text", "section-2-heading": " Hi "}
    rows = issue_editor.rows_from_form(data)
    assert [(r["kind"], r["heading"], r["story_id"]) for r in rows] == [("story", "", "abc"), ("text", "Hi", "")]
    assert issue_editor.rows_from_form({"section_count": "lots"}) == []
