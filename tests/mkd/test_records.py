"""Records: canonical JSON, streaming reads that report (never drop) bad lines."""

from __future__ import annotations

import pytest
from mkd.records import (
    ReadReport,
    Record,
    RecordError,
    canonical_json,
    family_key,
    read_records,
    write_records,
)


def test_canonical_json_sorted_compact_utf8() -> None:
    assert canonical_json({"symbol": "₹", "currency": "INR"}) == '{"currency":"INR","symbol":"₹"}'


def test_unknown_fields_are_carried(tmp_path) -> None:
    path = tmp_path / "r.jsonl"
    write_records(path, [Record(input="q", task="t", output="{}", id="x1", family="f")])
    (rec,) = read_records(path)
    assert rec.id == "x1" and rec.family == "f"


def test_bad_lines_are_reported_with_file_and_line(tmp_path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_bytes(
        b'{"input": "ok", "task": "query_classifier"}\n'
        b"{broken\n"
        b"\n"
        b'{"task": "query_classifier"}\n'
        b'{"input": "bad \xff utf8", "task": "x"}\n'
        b"[1, 2]\n"
    )
    with pytest.raises(RecordError, match=r"d.jsonl:2: not valid JSON"):
        list(read_records(path))
    report = ReadReport()
    good = list(read_records(path, on_error="reject", report=report))
    assert len(good) == 1 and report.ok == 1
    assert [e.line for e in report.errors] == [2, 4, 5, 6]
    assert "input" in report.errors[1].message
    assert "UTF-8" in report.errors[2].message


def test_family_key_is_one_rule_for_records_and_raw_lines() -> None:
    raw = [
        {"input": "Apple revenue", "task": "t", "id": "p1:v2", "family": "p1"},
        {"input": "Apple revenue", "task": "t", "id": "p1"},
        {"input": "Apple revenue", "task": "t"},
    ]
    assert [family_key(r) for r in raw] == ["p1", "p1", "Apple revenue"]
    assert [family_key(Record(**r)) for r in raw] == [family_key(r) for r in raw]
