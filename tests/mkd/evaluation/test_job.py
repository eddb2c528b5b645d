"""The evaluation job end to end on a tiny model: reports, gates, registry stage."""

from __future__ import annotations

import json

import pytest
from mkd.evaluation.job import run_evaluation
from mkd.registry import Registry
from mkd.storage import open_store


@pytest.mark.slow
def test_failing_gates_register_the_candidate_as_rejected(eval_config):
    outcome = run_evaluation(eval_config)
    report = outcome.report
    assert not outcome.passed  # a random tiny model cannot agree with the teacher
    assert set(report["models"]) == {"teacher", "student", "base", "base_fewshot"}
    teacher = report["models"]["teacher"]["tasks"]
    assert all(m["agreement"] == 1.0 and m["violation_rate"] == 0 for m in teacher.values())
    student = report["models"]["student"]["tasks"]
    assert set(student) == {
        "query_classifier", "entity_extractor", "currency_identifier", "date_interpretation"
    }  # fmt: skip
    assert all(m["count"] == 2 and m["prompt_tokens"] > 0 for m in student.values())
    assert [r["metric"] for r in report["before_after"]][:2] == [
        "accuracy (mean task score)", "agreement with teacher"
    ]  # fmt: skip
    store = open_store(eval_config.store)
    prefix = f"evals/{report['id']}/"
    for name in ("report.json", "report.md", "report.html", "predictions/student.jsonl"):
        assert store.exists(prefix + name), name
    first = json.loads(store.get_bytes(prefix + "predictions/student.jsonl").splitlines()[0])
    assert {"input", "task", "latency_s", "prompt_tokens", "output_tokens"} <= set(first)

    version = outcome.version
    assert version.ref == "finance-student:1" and version.stage == "rejected"
    manifest = version.manifest
    assert manifest["training_run"] == "run-1" and manifest["dataset"] == "finance/v1"
    assert manifest["gates"]["passed"] is False and manifest["adapter_sha256"]
    assert {"adapter/adapter_config.json", "README.md", "eval/report.html"} <= set(
        manifest["files"]
    )
    assert "tokenizer/tokenizer.json" in manifest["files"]

    # evaluating the same run again re-stages that version instead of adding one
    again = run_evaluation(eval_config.model_copy(update={}))
    assert again.version.version == 1
    assert [v.version for v in Registry(store).list("finance-student")] == [1]
