"""The word-by-word difference a contributor and a moderator read before an edit is approved."""
from chalicelib.moderation import difference, difference_html


def test_changed_words_are_marked_and_the_rest_kept_with_its_line_breaks():
    runs = difference("I went to my group.\n\nIt helped Sam.", "I went to my first group.\n\nIt helped.")
    assert "".join(r["text"] for r in runs if r["kind"] != "removed") == "I went to my first group.\n\nIt helped."
    assert "".join(r["text"] for r in runs if r["kind"] != "added") == "I went to my group.\n\nIt helped Sam."
    assert {r["kind"] for r in runs} == {"same", "removed", "added"}


def test_the_html_escapes_what_people_wrote():
    shown = difference_html("a <b>", "a <script>")
    assert "<script>" not in shown and "&lt;script&gt;" in shown and "<del>&lt;b&gt;</del>" in shown
