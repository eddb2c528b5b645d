"""A decision on the review page -> a review row -> an override the build applies."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from mkd.data.build import stage_finish
from mkd.data.review import input_sha256
from mkd.review_web.decisions import (
    Decision,
    DecisionError,
    latest_decisions,
    review_row,
    store_decision,
)
from mkd.review_web.items import ReviewItem
from rich.console import Console

from .conftest import records

NOW = datetime(2026, 3, 2, 10, 0, 0, 123000, tzinfo=UTC)


def _item(n: int = 0) -> ReviewItem:
    r = records()[n]
    return ReviewItem(
        r["id"], r["task"], r["input"], r["output"], '{"category":"COUNT"}', ["sample"]
    )


def test_accept_row_has_the_parse_review_shape_plus_who_when_before_after(pack):
    item = _item()
    row = review_row(pack, item, Decision("accept", " ann "), NOW)
    assert row == {
        "id": item.id,
        "task": "query_classifier",
        "input_sha256": input_sha256(item.input),
        "verdict": "accept",
        "output": item.teacher,
        "previous_output": item.teacher,
        "reviewer": "ann",
        "notes": "",
        "reviewed_at": "2026-03-02T10:00:00.123000Z",
        "file": "web",
        "kinds": ["sample"],
    }


def test_correct_checks_json_and_schema_and_stores_canonical_json(pack):
    item = _item()
    with pytest.raises(DecisionError, match="not valid JSON"):
        review_row(pack, item, Decision("correct", "ann", '{"category": '))
    with pytest.raises(DecisionError) as exc:
        review_row(pack, item, Decision("correct", "ann", '{"category": "NOPE", "x": 1}'))
    assert len(exc.value.errors) == 2 and all("schema" in e for e in exc.value.errors)
    with pytest.raises(DecisionError, match="empty"):
        review_row(pack, item, Decision("correct", "ann", "  "))
    row = review_row(pack, item, Decision("correct", "ann", '{\n  "category": "COUNT"\n}'))
    assert (row["output"], row["previous_output"]) == ('{"category":"COUNT"}', item.teacher)


def test_reject_keeps_the_label_as_before_and_after_and_unknown_verdicts_fail(pack):
    item = _item()
    row = review_row(pack, item, Decision("reject", "ann", notes="ambiguous"))
    assert (row["verdict"], row["output"], row["notes"]) == ("reject", item.teacher, "ambiguous")
    with pytest.raises(DecisionError, match="verdict"):
        review_row(pack, item, Decision("maybe", "ann"))
    no_answer = ReviewItem("g", "query_classifier", "x [PHONE]", None, kinds=["guard"])
    with pytest.raises(DecisionError, match="nothing to accept"):
        review_row(pack, no_answer, Decision("accept", "ann"))


def test_stored_decisions_are_applied_by_the_build(pack, review_store):
    rs = review_store
    recs = rs.records
    rows = [
        review_row(pack, _item(0), Decision("reject", "ann")),  # replaced by the next one
        review_row(pack, _item(0), Decision("correct", "ann", '{"category": "COUNT"}')),
        review_row(pack, _item(1), Decision("accept", "bob")),
        review_row(pack, _item(2), Decision("reject", "bob")),
    ]
    for row in rows:
        store_decision(rs.store, "finance", "r1", row)
    latest = latest_decisions(rs.store, "finance", "r1")
    assert {k: v["verdict"] for k, v in latest.items()} == {
        recs[0]["id"]: "correct",
        recs[1]["id"]: "accept",
        recs[2]["id"]: "reject",
    }
    manifest = stage_finish(rs.cfg, rs.store, Console(quiet=True))
    assert manifest["review"]["tasks"]["query_classifier"] == {
        "reviewed": 3,
        "corrected": 1,
        "rejected": 1,
        "teacher_error_rate": 0.3333,
    }
    prefix = "datasets/finance/r1/"
    kept = {
        (r := json.loads(x))["id"]: r
        for s in ("train", "val", "test")
        for x in rs.store.get_bytes(f"{prefix}{s}.jsonl").splitlines()
    }
    assert kept[recs[0]["id"]]["output"] == '{"category":"COUNT"}'
    assert kept[recs[0]["id"]]["reviewed"] == "corrected"
    assert kept[recs[1]["id"]]["reviewed"] == "accepted"
    assert recs[2]["id"] not in kept
    quarantine = rs.store.get_bytes(prefix + "quarantine.jsonl").decode()
    assert '"reason": "review: rejected"' in quarantine
