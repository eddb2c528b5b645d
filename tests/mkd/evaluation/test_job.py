"""The evaluation job end to end on a tiny model: reports, gates, registry stage."""

from __future__ import annotations

import json

import pytest
from mkd.evaluation.job import run_evaluation
from mkd.registry import Registry
from mkd.storage import open_store


def manifest_failed(outcome) -> bool:
    """The stored gate summary names each failed check (what a refused deploy quotes)."""
    failed = outcome.report["gates"]["failed"]
    return "query_classifier/items" in failed and "query_classifier/agreement_lower_bound" in failed


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
    rows = {r["metric"]: r for r in report["before_after"]}
    classifier = rows["query_classifier: agreement with teacher [95% interval]"]
    assert classifier["teacher"] == "1 (the reference)"  # agreement with itself, said so
    assert classifier["student"].endswith("n=2") and "[" in classifier["student"]
    assert "accuracy (mean task score)" not in rows  # not the agreement under a second name
    assert "assumed" in rows["model size"]["teacher"]
    assert "assumed" in rows["cost / 1k queries (USD, assumed prices)"]["change"]
    assert "one request at a time" in rows["latency / request, p50 (s)"]["change"]
    assert report["models"]["student"]["request_latency"]["n"] == 4 * 2  # alone, per task
    assert manifest_failed(outcome)
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


def test_a_teacher_that_answers_nothing_stops_the_evaluation_naming_its_endpoint(eval_config):
    from mkd.evaluation.job import TeacherUnavailable

    teacher = eval_config.teacher.model_copy(
        update={"backend": "openai", "base_url": "http://127.0.0.1:9/v1", "max_retries": 0}
    )
    cfg = eval_config.model_copy(update={"teacher": teacher})
    with pytest.raises(
        TeacherUnavailable, match=r"openai at http://127\.0\.0\.1:9/v1.*compare_teacher"
    ):
        run_evaluation(cfg)
    store = open_store(cfg.store)
    assert store.list("evals/") == []  # no report that reads as a 0.000 student
    assert not store.exists("registry/") or store.list("registry/") == []


def test_the_runner_maps_an_unavailable_teacher_to_a_failed_exit():
    from mkd.evaluation.job import TeacherUnavailable
    from mkd.stages.runner import EXIT_FAILED, exit_code_for

    assert exit_code_for(TeacherUnavailable("down")) == EXIT_FAILED
