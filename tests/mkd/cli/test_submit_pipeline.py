"""`mkd submit pipeline`: the job spec sent to the Job Submission API (only the client is faked)."""

from __future__ import annotations

import shlex
from typing import Any

import pytest
import yaml
from mkd.cli.main import app
from typer.testing import CliRunner


class FakeClient:
    """Stands in for ray.job_submission.JobSubmissionClient: records submit_job's arguments."""

    def __init__(self) -> None:
        self.submitted: list[dict[str, Any]] = []
        self.staged: dict[str, Any] = {}

    def submit_job(self, **kwargs: Any) -> str:
        from pathlib import Path

        # The staging directory is deleted after submit_job returns: read the config now.
        staged = Path(kwargs["runtime_env"]["working_dir"]) / "pipeline.yaml"
        self.staged = yaml.safe_load(staged.read_text())
        self.submitted.append(kwargs)
        return kwargs["submission_id"]


@pytest.fixture
def client(monkeypatch) -> FakeClient:
    fake = FakeClient()
    monkeypatch.setattr("mkd.cli.submit_cmds._client", lambda address: fake)
    return fake


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "pipeline.yaml"
    path.write_text("name: finance\nstore: {uri: s3://bucket/mkd}\n")
    return path


def _submit(*args: str):
    return CliRunner().invoke(app, ["submit", *args, "--address", "http://ray-head.mkd.svc:8265"])


def test_submit_pipeline_runs_the_pipeline_stage_with_the_shipped_config(client, config):
    result = _submit("pipeline", "-c", str(config))
    assert result.exit_code == 0, result.output
    (job,) = client.submitted
    assert shlex.split(job["entrypoint"]) == [
        "python",
        "-m",
        "mkd.stages",
        "pipeline",
        "-c",
        "pipeline.yaml",
    ]
    assert job["submission_id"].startswith("mkd-pipeline-")
    assert job["metadata"] == {"mkd.stage": "pipeline", "mkd.config": "pipeline.yaml"}
    modules = {p.rsplit("/", 1)[-1] for p in job["runtime_env"]["py_modules"]}
    assert {"mkd", "ray_jobs"} <= modules
    assert client.staged["store"]["uri"] == "s3://bucket/mkd"
    assert client.staged["data"]["ray_address"] == "auto"  # join the job's cluster
    assert job["submission_id"] in result.stdout


def test_until_and_fresh_reach_the_entrypoint(client, config):
    result = _submit("pipeline", "-c", str(config), "--until", "dataset", "--fresh")
    assert result.exit_code == 0, result.output
    assert shlex.split(client.submitted[0]["entrypoint"])[-3:] == ["--until", "dataset", "--fresh"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["label", "--until", "dataset"], "apply to `mkd submit pipeline`"),
        (["pipeline", "--until", "deploy"], "stages are augment, label"),
    ],
)
def test_pipeline_options_are_checked_before_submitting(client, config, args, message):
    result = _submit(args[0], "-c", str(config), *args[1:])
    assert result.exit_code == 1 and message in result.output
    assert not client.submitted
