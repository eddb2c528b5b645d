"""The finance pack's curated prompts and gold sample, and the reference teacher measured on them."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from mkd.records import canonical_json, read_records
from mkd.scoring import parse_prediction
from mkd.tasks import load_pack
from mkd.teachers.reference import ReferenceLabeler
from mkd.teachers.reference.evaluate import evaluate_gold

PACK = load_pack("finance")
CATEGORIES = PACK.task("query_classifier").output_schema["properties"]["category"]["enum"]


def curated() -> list[dict]:
    path = Path(PACK.data_file("data/curated.jsonl"))
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_curated_ids_unique_inputs_distinct_every_category_covered() -> None:
    rows = curated()
    assert len(rows) >= 400
    assert len({r["id"] for r in rows}) == len(rows)
    assert len({" ".join(r["input"].casefold().split()) for r in rows}) == len(rows)
    assert all(r["source"].startswith("curated/") for r in rows)
    counts = Counter(r["category_hint"] for r in rows)
    assert set(counts) == set(CATEGORIES)
    assert min(counts.values()) >= 25


def test_gold_is_schema_valid_with_at_least_110_prompts_per_task() -> None:
    records = list(read_records(PACK.data_file("data/gold.jsonl")))
    counts = Counter(r.task for r in records)
    assert set(counts) == set(PACK.tasks) and min(counts.values()) >= 110
    curated_inputs = {r["input"] for r in curated()}
    for rec in records:
        assert rec.input in curated_inputs
        assert rec.output == canonical_json(json.loads(rec.output))
        assert parse_prediction(PACK.task(rec.task), rec.output)[1] is None, rec.id


def test_every_curated_prompt_gets_a_schema_valid_answer_for_every_task() -> None:
    labeler = ReferenceLabeler(PACK)
    for row in curated():
        for name, spec in PACK.tasks.items():
            value = labeler.predict(name, row["input"], {"as_of": "2026-01-15"})
            assert spec.schema_errors(value) == [], (row["id"], name, value)


@pytest.mark.parametrize("sample", [None, "holdout"])
def test_accuracy_on_gold_is_at_least_0_9_per_task(sample: str | None) -> None:
    report = evaluate_gold(PACK, sample=sample)
    assert set(report.scores) == set(PACK.tasks)
    for task, score in report.scores.items():
        assert score.violation_rate == 0.0
        assert score.score >= 0.9, (task, score.score)
