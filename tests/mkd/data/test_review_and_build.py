"""Review export/import and the final build stage (splits, manifest last, immutability)."""

from __future__ import annotations

import csv
import json

import pytest
from mkd.config import parse_config
from mkd.data.build import stage_finish
from mkd.data.manifest import VersionExists
from mkd.data.prompts_io import to_jsonl
from mkd.data.review import export_review, parse_review, store_reviews
from mkd.evaluation.metrics import is_gold
from mkd.records import Record
from mkd.storage import open_store, sha256_bytes
from mkd.store_layout import work_prefix
from rich.console import Console


def _records(n: int = 60) -> list[dict]:
    cats = ["LOOKUP", "LIST", "SCREEN"]
    recs = []
    for i in range(n):
        recs.append(
            {
                "id": f"f{i % 20}~{i}:query_classifier",
                "prompt_id": f"f{i % 20}~{i}",
                "family": f"f{i % 20}",
                "source": "curated/x",
                "input": f"query {i}",
                "task": "query_classifier",
                "output": json.dumps({"category": cats[i % 3]}),
                "context": {"as_of": "2026-01-15"},
            }
        )
    return recs


def test_export_is_stratified_and_import_validates(pack, tmp_path):
    csv_path, jsonl_path = export_review(_records(), tmp_path, per_task=6, seed=0)
    with open(csv_path, encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 6 and {r["label"] for r in rows} == {"LOOKUP", "LIST", "SCREEN"}
    assert len(jsonl_path.read_text().splitlines()) == 6
    rows[0] |= {
        "verdict": "correct",
        "corrected_output": '{"category": "COUNT"}',
        "reviewer": "ann",
    }
    rows[1] |= {"verdict": "accept"}
    rows[2] |= {"verdict": "correct", "corrected_output": '{"category": "BAD"}'}
    rows[3] |= {"verdict": "maybe"}
    with open(csv_path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    reviews, problems = parse_review(csv_path, pack, reviewer="bob")
    assert len(problems) == 2
    assert "review.csv:4" in problems[0] and "schema" in problems[0]
    assert "review.csv:5" in problems[1] and "accept, correct or reject" in problems[1]
    assert [(r["verdict"], r["reviewer"]) for r in reviews] == [
        ("correct", "ann"),
        ("accept", "bob"),
    ]
    assert reviews[0]["output"] == '{"category":"COUNT"}'


def _prepare(tmp_path, records):
    cfg = parse_config(
        {"store": {"uri": f"file://{tmp_path / 'store'}"}, "data": {"version": "t1"}}
    )
    store = open_store(cfg.store)
    prefix = work_prefix(cfg.data.dataset, cfg.data.version)
    store.put_bytes(prefix + "labeled.jsonl", to_jsonl(records))
    store.put_bytes(prefix + "quarantine.jsonl", to_jsonl([{"id": "q", "reason": "empty prompt"}]))
    store.put_json(prefix + "label_report.json", {"labeled": len(records)})
    return cfg, store


def test_finish_writes_splits_then_manifest_and_applies_overrides(pack, tmp_path):
    records = _records()
    cfg, store = _prepare(tmp_path, records)
    fix = {
        "id": records[0]["id"],
        "task": "query_classifier",
        "input_sha256": "",
        "verdict": "correct",
    }
    fix |= {
        "output": '{"category":"COUNT"}',
        "reviewer": "ann",
        "reviewed_at": "t",
        "file": "r.csv",
        "notes": "",
    }
    ok = fix | {"id": records[1]["id"], "verdict": "accept", "output": records[1]["output"]}
    store_reviews(store, "finance", "t1", [fix, ok])
    manifest = stage_finish(cfg, store, Console(quiet=True))
    prefix = "datasets/finance/t1/"
    assert store.list(prefix) == [
        prefix + f
        for f in ("manifest.json", "quarantine.jsonl", "test.jsonl", "train.jsonl", "val.jsonl")
    ]
    for name, meta in manifest["files"].items():
        assert meta["sha256"] == sha256_bytes(store.get_bytes(prefix + name))
    assert manifest["counts"]["records"] == 60
    assert manifest["review"]["tasks"]["query_classifier"] == {
        "reviewed": 2,
        "corrected": 1,
        "rejected": 0,
        "teacher_error_rate": 0.5,
    }
    lines = [
        json.loads(x)
        for s in ("train", "val", "test")
        for x in store.get_bytes(f"{prefix}{s}.jsonl").splitlines()
    ]
    fixed = next(r for r in lines if r["id"] == records[0]["id"])
    assert (
        fixed["output"] == '{"category":"COUNT"}'
        and fixed["review"]["teacher_output"] == records[0]["output"]
    )
    accepted = next(r for r in lines if r["id"] == records[1]["id"])
    assert (fixed["reviewed"], accepted["reviewed"]) == ("corrected", "accepted")
    # evaluation reads both as human gold, by the same field name the importer wrote
    gold_field = parse_config({}).evaluation.gold_field
    plain = next(r for r in lines if "review" not in r)
    marked = [Record.model_validate(r) for r in (fixed, accepted, plain)]
    assert [is_gold(r, gold_field) for r in marked] == [True, True, False]
    with pytest.raises(VersionExists):
        stage_finish(cfg, store, Console(quiet=True))


def test_unfinished_version_is_rebuilt(pack, tmp_path):
    cfg, store = _prepare(tmp_path, _records())
    store.put_bytes("datasets/finance/t1/train.jsonl", b"half written\n")
    stage_finish(cfg, store, Console(quiet=True))
    assert b"half written" not in store.get_bytes("datasets/finance/t1/train.jsonl")


def test_rejected_record_leaves_the_splits_for_the_quarantine(pack, tmp_path):
    records = _records()
    cfg, store = _prepare(tmp_path, records)
    base = {"task": "query_classifier", "input_sha256": "", "reviewer": "ann", "notes": ""}
    base |= {"reviewed_at": "t", "file": "web"}
    first = base | {"id": records[2]["id"], "verdict": "accept", "output": records[2]["output"]}
    store_reviews(store, "finance", "t1", [first])
    # a later decision on the same item wins, even within the same second
    reject = first | {"verdict": "reject", "notes": "ambiguous query"}
    store_reviews(store, "finance", "t1", [reject])
    manifest = stage_finish(cfg, store, Console(quiet=True))
    assert manifest["counts"]["records"] == 59
    assert manifest["review"]["rejected"] == 1
    assert manifest["review"]["tasks"]["query_classifier"] == {
        "reviewed": 1,
        "corrected": 0,
        "rejected": 1,
        "teacher_error_rate": 0.0,
    }
    prefix = "datasets/finance/t1/"
    ids = {
        json.loads(x)["id"]
        for s in ("train", "val", "test")
        for x in store.get_bytes(f"{prefix}{s}.jsonl").splitlines()
    }
    assert records[2]["id"] not in ids and len(ids) == 59
    quarantine = [json.loads(x) for x in store.get_bytes(prefix + "quarantine.jsonl").splitlines()]
    row = next(q for q in quarantine if q["id"] == records[2]["id"])
    assert row["reason"] == "review: rejected" and row["raw"] == records[2]["output"]
    assert row["review"]["notes"] == "ambiguous query"


def test_reject_verdict_imports_from_csv(pack, tmp_path):
    csv_path, _ = export_review(_records(), tmp_path, per_task=2, seed=0)
    with open(csv_path, encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    rows[0] |= {"verdict": "Reject", "notes": "not a finance query"}
    with open(csv_path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    reviews, problems = parse_review(csv_path, pack, reviewer="bob")
    assert problems == []
    assert [(r["verdict"], r["output"]) for r in reviews] == [("reject", rows[0]["teacher_output"])]
