"""The local data folder's file format: DynamoDB's wire JSON, binary values as base64, written whole."""
from __future__ import annotations

from localdev import persist


def test_binary_values_round_trip_and_partial_files_never_replace_the_store(tmp_path):
    item = {"PK": {"S": "ISSUE#1"}, "SK": {"S": "RENDERED"}, "html_z": {"B": b"\x00\xffzlib"},
            "parts": {"BS": [b"a", b"\x01"]}, "sections": {"L": [{"M": {"n": {"N": "1"}, "b": {"B": b"\x02"}}}]}}
    assert persist._decode(persist._encode(item)) == item
    target = tmp_path / "table.json"
    persist.DataFolder._write(target, b'{"items": []}')
    assert target.read_bytes() == b'{"items": []}' and not (tmp_path / "table.json.partial").exists()
