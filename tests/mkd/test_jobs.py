"""mkd.jobs: stage config staging, runtime_env, exit codes; `mkd submit` on a real local Ray cluster."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from mkd.jobs import (
    EXIT_STOPPED,
    PROJECT_MODULES,
    auth_headers,
    available_stages,
    client_for,
    default_python,
    outcome_of,
    runtime_env_for,
    stage_command,
    stage_config,
    stage_name,
    submit_entrypoint,
    wait_for_end,
)

MKD = str(Path(sys.executable).parent / "mkd")


def test_stage_config_makes_a_relative_file_store_absolute_and_connects_to_the_cluster(tmp_path):
    config = tmp_path / "cfg" / "pipeline.yaml"
    config.parent.mkdir()
    config.write_text("name: finance\nstore:\n  uri: file://./store\n")
    staged = yaml.safe_load(stage_config(config, tmp_path / "staging").read_text())
    assert staged["store"]["uri"] == f"file://{tmp_path}/cfg/store"
    assert staged["data"]["ray_address"] == "auto"


def test_stage_config_keeps_explicit_settings(tmp_path):
    config = tmp_path / "pipeline.yaml"
    config.write_text("store: {uri: s3://bucket/mkd}\ndata: {ray_address: ray://head:10001}\n")
    staged = yaml.safe_load(stage_config(config, tmp_path / "staging").read_text())
    assert staged["store"]["uri"] == "s3://bucket/mkd"
    assert staged["data"]["ray_address"] == "ray://head:10001"


def test_stage_config_refuses_a_config_that_is_not_a_mapping(tmp_path):
    config = tmp_path / "pipeline.yaml"
    config.write_text("- a\n- b\n")
    with pytest.raises(ValueError, match="mapping of sections"):
        stage_config(config, tmp_path / "staging")


def test_runtime_env_ships_the_project_and_the_config_dir(tmp_path):
    env = runtime_env_for(tmp_path, {"A": "1"}, local=True)
    assert env["working_dir"] == str(tmp_path)
    assert set(env["py_modules"]) == {str(p) for p in PROJECT_MODULES.values()}
    assert env["env_vars"] == {"A": "1", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}


def test_stage_names_come_from_the_stage_runner_and_eval_means_evaluate():
    stages = available_stages()
    assert "label" in stages and "pipeline" in stages
    assert stage_command("eval") == ["python", "-m", "mkd.stages", "evaluate"]
    assert stage_name("build_data") == "build"
    with pytest.raises(ValueError, match=r"unknown stage 'lable'; stages: .*label"):
        stage_name("lable")


@pytest.mark.parametrize(
    ("status", "driver_code", "expected"),
    [("SUCCEEDED", 0, 0), ("FAILED", 2, 2), ("FAILED", None, 1), ("STOPPED", None, EXIT_STOPPED)],
)
def test_exit_code_follows_the_job_status(status, driver_code, expected):
    info = SimpleNamespace(
        status=status, driver_exit_code=driver_code, submission_id="s", message="m"
    )
    assert outcome_of(info).exit_code == expected


def test_auth_header_from_the_token_file_unless_disabled(tmp_path, monkeypatch):
    token = tmp_path / "token"
    token.write_text("abc123\n")
    monkeypatch.delenv("RAY_AUTH_TOKEN", raising=False)
    monkeypatch.setenv("RAY_AUTH_TOKEN_PATH", str(token))
    monkeypatch.delenv("RAY_AUTH_MODE", raising=False)
    assert auth_headers() == {"Authorization": "Bearer abc123"}
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    assert auth_headers() == {}


def test_local_clusters_get_our_interpreter():
    assert default_python("http://127.0.0.1:8265") == sys.executable
    assert default_python("http://ray-head.mkd.svc:8265") == "python"


# --- a real local Ray cluster through the Job API -------------------------------------------------


def _small_config(tmp_path: Path, pack) -> Path:
    """Five curated prompts, no augmentation, the in-process reference teacher, a file store."""
    curated = pack.root / "data" / "curated.jsonl"
    small = tmp_path / "curated.jsonl"
    small.write_text("".join(curated.read_text().splitlines(keepends=True)[:5]))
    config = tmp_path / "pipeline.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "store": {"uri": "file://./store"},
                "teacher": {"backend": "reference"},
                "data": {
                    "curated": str(small),
                    "augment": {"enabled": False},
                    "actors": 1,
                    "actor_num_cpus": 0.5,
                    "batch_size": 8,
                },
            }
        )
    )
    return config


def _submit(cluster, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [MKD, "submit", *args, "--address", cluster.dashboard_url, "--follow"],
        capture_output=True, text=True, timeout=600, env=cluster.env,
    )  # fmt: skip


@pytest.mark.integration
@pytest.mark.slow
def test_submit_runs_stages_on_a_local_cluster_and_streams_logs(ray_cluster, tmp_path, pack):
    """Should run augment then label through the Job API, logs streamed, results in the store."""
    config = _small_config(tmp_path, pack)
    for stage, expected_log in (("augment", "augment: {'curated': 5"), ("label", "label: ")):
        result = _submit(ray_cluster, stage, "-c", str(config))
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        assert expected_log in result.stdout
        assert "SUCCEEDED (exit code 0)" in result.stderr
    work = tmp_path / "store" / "work"
    assert list(work.rglob("labeled.jsonl")), list(work.rglob("*"))


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from mkd.training.tiny import build_tiny_student

    return build_tiny_student(tmp_path_factory.mktemp("tiny-student"))


def _model_stages_config(tmp_path: Path, pack, tiny_model: Path) -> Path:
    """24 curated prompts built into a dataset, then a few steps of a tiny student; gates open."""
    curated = pack.root / "data" / "curated.jsonl"
    small = tmp_path / "curated.jsonl"
    small.write_text("".join(curated.read_text().splitlines(keepends=True)[::20][:24]))
    config = tmp_path / "pipeline.yaml"
    gate = {
        "min_agreement": 0.0,
        "min_agreement_lower_bound": 0.0,
        "min_items": 0,
        "max_violation_rate": 1.0,
    }
    config.write_text(
        yaml.safe_dump(
            {
                "store": {"uri": "file://./store"},
                "teacher": {"backend": "reference"},
                "data": {"curated": str(small), "dataset": "submit-test",
                         "augment": {"enabled": False}, "actors": 1, "actor_num_cpus": 0.5,
                         "review_sample_per_task": 1},
                "training": {"base_model": str(tiny_model), "dataset": "latest", "batch_size": 4,
                             "max_steps": 4, "checkpoint_every": 2, "eval_every": 2,
                             "eval_batches": 1, "log_every": 1,
                             "optimizer": {"warmup_steps": 1}, "scaling": {"torch_threads": 1}},
                "evaluation": {"max_items_per_task": 2, "base_fewshot": False,
                               "max_new_tokens": 8, "default_gate": gate},
                "export": {"variants": ["master"], "max_items_per_task": 2},
            }
        )
    )  # fmt: skip
    return config


@pytest.mark.integration
@pytest.mark.slow
def test_submit_runs_build_train_eval_export_on_a_local_cluster(
    ray_cluster, tmp_path, pack, tiny_model
):
    """Should run the model stages one after another through the Job API, each finding the last's
    output in the store: dataset -> training run -> evaluated candidate -> registered master."""
    config = _model_stages_config(tmp_path, pack, tiny_model)
    expected = {
        "build_data": "{'train': ",
        "train": "run ",
        "eval": "registry: finance-student:",
        "export": "registered finance-student:",
    }
    for stage, expected_log in expected.items():
        result = _submit(ray_cluster, stage, "-c", str(config))
        assert result.returncode == 0, stage + result.stdout[-3000:] + result.stderr[-3000:]
        assert expected_log in result.stdout, (stage, result.stdout[-3000:])
        assert "SUCCEEDED (exit code 0)" in result.stderr
    store = tmp_path / "store"
    assert list((store / "datasets" / "submit-test").rglob("manifest.json"))
    assert list((store / "runs").rglob("adapter_model.safetensors"))
    assert list((store / "registry" / "finance-student").rglob("*.safetensors"))


@pytest.mark.integration
@pytest.mark.slow
def test_submit_reports_a_failed_stage_with_its_exit_code(ray_cluster, tmp_path):
    """Should exit with the driver's code: a config error makes a stage exit 2."""
    config = tmp_path / "pipeline.yaml"
    config.write_text("teacher: {backend: nonsense}\n")
    result = _submit(ray_cluster, "augment", "-c", str(config))
    assert result.returncode == 2, result.stderr[-3000:]
    assert "teacher.backend" in result.stdout
    assert "FAILED (exit code 2)" in result.stderr


@pytest.mark.integration
@pytest.mark.slow
def test_a_deliberately_failing_entrypoint_reports_its_exit_status(ray_cluster):
    client = client_for(ray_cluster.dashboard_url)
    submission_id = submit_entrypoint(
        client, f"{sys.executable} -c 'import sys; sys.exit(3)'", local=True
    )
    outcome = wait_for_end(client, submission_id, timeout_s=300)
    assert (outcome.status, outcome.exit_code) == ("FAILED", 3)
    listed = subprocess.run(
        [MKD, "jobs", "list", "--json", "--address", ray_cluster.dashboard_url],
        capture_output=True, text=True, timeout=120, env=ray_cluster.env,
    )  # fmt: skip
    assert submission_id in listed.stdout
