"""A small dataset version (labeled records, a quarantine) and an evaluation report in a
file:// store: what the review page reads."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from mkd.config import PipelineConfig, parse_config
from mkd.data.prompts_io import to_jsonl
from mkd.storage import Store, open_store
from mkd.store_layout import work_prefix

CATS = ["LOOKUP", "LIST", "SCREEN"]


def qc(category: str) -> str:
    return json.dumps({"category": category})


def records() -> list[dict]:
    recs = []
    for i in range(12):
        recs.append(
            {
                "id": f"f{i}~{i}:query_classifier",
                "prompt_id": f"f{i}~{i}",
                "family": f"f{i}",
                "source": "curated/x",
                "input": f"show query number {i}",
                "task": "query_classifier",
                "output": qc(CATS[i % 3]),
                "context": {"as_of": "2026-01-15"},
            }
        )
    for i in range(3):
        ents = [{"name": f"Company {i}", "type": "COMPANY"}, {"name": "revenue", "type": "METRIC"}]
        recs.append(
            {
                "id": f"e{i}~{i}:entity_extractor",
                "prompt_id": f"e{i}~{i}",
                "family": f"e{i}",
                "source": "curated/x",
                "input": f"revenue of Company {i}",
                "task": "entity_extractor",
                "output": json.dumps(ents),
                "context": {"as_of": "2026-01-15"},
            }
        )
    return recs


def quarantine() -> list[dict]:
    return [
        {
            "id": "g1~0:query_classifier",
            "task": "query_classifier",
            "input": "call me at [PHONE]",
            "reason": "guard: input.pii",
            "raw": "",
        },
        {"id": "q2", "task": "query_classifier", "input": "", "reason": "empty prompt", "raw": ""},
    ]


def predictions(recs: list[dict]) -> tuple[list[dict], list[dict]]:
    """(student, teacher) lines: the student disagrees on records 0 (wrong category), 1 (not
    JSON) and entity 0 (one entity missing); the teacher answers like the labels."""
    student, teacher = [], []
    for n, r in enumerate(recs):
        out = r["output"]
        if n == 0:
            out = qc("COUNT")
        elif n == 1:
            out = "{not json"
        elif r["id"] == "e0~0:entity_extractor":
            out = json.dumps([{"name": "Company 0", "type": "COMPANY"}])
        base = {"input": r["input"], "task": r["task"], "context": r["context"]}
        stats = {"latency_s": 0.1, "prompt_tokens": 10, "output_tokens": 5, "batch_size": 1}
        violation = "unparseable JSON" if n == 1 else None
        student.append(base | {"output": out} | stats | {"violation": violation})
        teacher.append(base | {"output": r["output"]} | stats | {"violation": None})
    # one evaluated query that is not a record of this version: never listed
    student.append({"input": "elsewhere", "task": "query_classifier", "output": qc("LIST")})
    teacher.append({"input": "elsewhere", "task": "query_classifier", "output": qc("LOOKUP")})
    return student, teacher


@dataclass
class ReviewStore:
    cfg: PipelineConfig
    store: Store
    records: list[dict]
    eval_id: str


def make_review_store(root: Path) -> ReviewStore:
    cfg = parse_config(
        {
            "store": {"uri": f"file://{root}"},
            "data": {"version": "r1", "review_sample_per_task": 3},
        }
    )
    store = open_store(cfg.store)
    recs = records()
    prefix = work_prefix(cfg.data.dataset, cfg.data.version)
    store.put_bytes(prefix + "labeled.jsonl", to_jsonl(recs))
    store.put_bytes(prefix + "quarantine.jsonl", to_jsonl(quarantine()))
    store.put_json(prefix + "label_report.json", {"labeled": len(recs)})
    student, teacher = predictions(recs)
    eval_id = "20260301T000000Z-run-demo"
    old = "20260101T000000Z-run-old"
    for eid, created in ((old, "2026-01-01T00:00:00Z"), (eval_id, "2026-03-01T00:00:00Z")):
        store.put_bytes(f"evals/{eid}/predictions/student.jsonl", to_jsonl(student))
        store.put_bytes(f"evals/{eid}/predictions/teacher.jsonl", to_jsonl(teacher))
        store.put_json(
            f"evals/{eid}/report.json", {"id": eid, "kind": "evaluation", "created_at": created}
        )
    # an export report is newer but is not an evaluation
    store.put_json(
        "evals/20260401-export-x/report.json", {"kind": "export", "created_at": "2026-04-01"}
    )
    return ReviewStore(cfg, store, recs, eval_id)


@pytest.fixture
def review_store(tmp_path: Path) -> ReviewStore:
    return make_review_store(tmp_path / "store")
