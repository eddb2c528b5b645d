"""ray_jobs.pipeline: every stage in order through the local runner, finished stages reused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from mkd.pipeline import stages as stage_module
from mkd.pipeline.cluster import stage_names

from ray_jobs import pipeline as pipeline_job


@pytest.fixture
def gates() -> dict[str, bool]:
    """What the fake evaluate stage reports."""
    return {"passed": True}


@pytest.fixture
def calls(monkeypatch, gates) -> list[str]:
    """Every stage body replaced by a recorder (the runner, fingerprints and state stay real)."""
    ran: list[str] = []

    def fake(name: str):
        def run(ctx) -> dict[str, Any]:
            ran.append(name)
            outputs = {
                "train": {"run_id": f"run-{len(ran)}"},  # a new run each time, as for real
                "evaluate": {"passed": gates["passed"], "version": "v1"},
            }
            return outputs.get(name, {"stage": name})

        return run

    for name in stage_names():
        monkeypatch.setattr(stage_module, name, fake(name))
    return ran


def _config(tmp_path: Path, **training: Any) -> Path:
    path = tmp_path / "pipeline.yaml"
    data = {
        "name": "finance",
        "store": {"uri": f"file://{tmp_path / 'store'}"},
        "training": training,
    }
    path.write_text(yaml.safe_dump(data))
    return path


def test_a_rerun_skips_every_finished_stage(calls, tmp_path):
    config = _config(tmp_path)
    assert pipeline_job.main(["-c", str(config)]) == 0
    assert calls == stage_names()
    assert pipeline_job.main(["-c", str(config)]) == 0
    assert calls == stage_names()  # nothing ran again
    assert (tmp_path / "store" / "pipelines" / "finance" / "state.json").is_file()


def test_a_changed_input_reruns_its_stage_and_the_later_ones(calls, tmp_path):
    assert pipeline_job.main(["-c", str(_config(tmp_path))]) == 0
    calls.clear()
    assert pipeline_job.main(["-c", str(_config(tmp_path, max_steps=77))]) == 0
    assert calls == ["train", "evaluate", "export"]


def test_until_runs_a_prefix_that_the_full_run_then_reuses(calls, tmp_path):
    config = _config(tmp_path)
    assert pipeline_job.main(["-c", str(config), "--until", "dataset"]) == 0
    assert calls == ["augment", "label", "review", "dataset"]
    assert pipeline_job.main(["-c", str(config)]) == 0
    assert calls[4:] == ["train", "evaluate", "export"]
    assert pipeline_job.main(["-c", str(config), "--fresh"]) == 0
    assert calls[7:] == stage_names()


def test_failed_gates_fail_the_job_and_bad_input_is_refused(calls, gates, tmp_path):
    gates["passed"] = False
    config = _config(tmp_path)
    assert pipeline_job.main(["-c", str(config)]) == 1
    assert pipeline_job.main(["-c", str(config)]) == 1  # the reused verdict still fails the job
    assert calls == stage_names()
    assert pipeline_job.main(["-c", str(config), "--until", "deploy"]) == 2  # bad input
    assert pipeline_job.main(["-c", str(tmp_path / "missing.yaml")]) == 2


@pytest.mark.integration
@pytest.mark.slow
def test_real_data_stages_are_reused_on_a_rerun(ray_cluster, pack, tmp_path, monkeypatch):
    """The real augment/label/review/dataset stages (reference teacher, five prompts), then a
    re-run that must not touch them."""
    curated = pack.root / "data" / "curated.jsonl"
    small = tmp_path / "curated.jsonl"
    small.write_text("".join(curated.read_text().splitlines(keepends=True)[:5]))
    config = tmp_path / "pipeline.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "store": {"uri": f"file://{tmp_path / 'store'}"},
                "teacher": {"backend": "reference"},
                "data": {
                    "curated": str(small),
                    "augment": {"enabled": False},
                    "actors": 1,
                    "actor_num_cpus": 0.5,
                    "batch_size": 8,
                    "ray_address": ray_cluster.address,
                },
            }
        )
    )
    assert pipeline_job.main(["-c", str(config), "--until", "dataset"]) == 0
    assert list((tmp_path / "store" / "datasets").rglob("manifest.json"))

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a finished stage ran again")

    for name in ("stage_augment", "stage_label", "stage_finish"):
        monkeypatch.setattr(f"mkd.data.build.{name}", refuse)
    assert pipeline_job.main(["-c", str(config), "--until", "dataset"]) == 0
