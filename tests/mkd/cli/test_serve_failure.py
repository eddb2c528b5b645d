"""A failed deploy keeps its cause: the replica's exception is printed and the Ray logs are kept."""

from __future__ import annotations

from pathlib import Path

import pytest
from mkd.cli.main import app
from mkd.serve import control
from mkd.services.ray_local import RayCluster
from typer.testing import CliRunner

REPLICA_ERROR = (
    "The deployment failed to start 3 times in a row. Error:\n"
    "ray::ServeReplica:mkd:Student.initialize_and_get_metadata()\n"
    "RuntimeError: Error(s) in loading state_dict for LlamaForCausalLM: size mismatch for "
    "model.embed_tokens.weight"
)
FAILED = {
    "status": "DEPLOY_FAILED",
    "message": "Failed to update the deployments ['Student'].",
    "deployments": {
        "Router": {"status": "HEALTHY", "message": ""},
        "Student": {"status": "DEPLOY_FAILED", "message": REPLICA_ERROR},
        "Teacher": {"status": "HEALTHY", "message": ""},
    },
}


def test_failure_report_names_each_unhealthy_deployment_with_its_message() -> None:
    report = control.failure_report(FAILED)
    assert report.startswith("DEPLOY_FAILED: Failed to update the deployments ['Student'].")
    assert "deployment Student DEPLOY_FAILED:" in report and "size mismatch" in report
    assert "Router" not in report and "Teacher" not in report


def test_wait_running_raises_with_the_replica_exception(monkeypatch) -> None:
    monkeypatch.setattr(control, "status", lambda url: {"applications": {"mkd": FAILED}})
    with pytest.raises(control.ServeControlError, match=r"size mismatch for model\.embed_tokens"):
        control.wait_running("http://127.0.0.1:9", timeout=5)


def _fake_cluster(tmp_path: Path) -> RayCluster:
    temp_dir = tmp_path / "mkdray-fake"
    logs = temp_dir / "session_2026-12-05_12-00-00_1" / "logs"
    (logs / "serve").mkdir(parents=True)
    (logs / "serve" / "replica_mkd_Student_abc.log").write_text(REPLICA_ERROR)
    (temp_dir / "session_latest").symlink_to(logs.parent)
    return RayCluster("127.0.0.1:1", "http://127.0.0.1:9", temp_dir, 9)


def test_stop_can_keep_the_logs_before_deleting_the_temp_dir(tmp_path: Path) -> None:
    cluster = _fake_cluster(tmp_path)
    kept = cluster.stop(keep_logs_in=tmp_path / "kept")
    assert (kept / "serve" / "replica_mkd_Student_abc.log").read_text() == REPLICA_ERROR
    assert not cluster.temp_dir.exists()


def test_mkd_serve_prints_the_replica_exception_and_where_the_logs_are(
    tmp_path: Path, monkeypatch
) -> None:
    import mkd.services.ray_local as ray_local

    cluster = _fake_cluster(tmp_path)
    monkeypatch.setattr(ray_local, "start_ray_cluster", lambda: cluster)
    monkeypatch.setattr(control, "deploy", lambda url, cfg: None)
    monkeypatch.setattr(control, "status", lambda url: {"applications": {"mkd": FAILED}})
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where _logs_dir() creates its dir
    result = CliRunner().invoke(
        app, ["serve", "-c", "configs/serve.yaml", "--port", "9"], env={"COLUMNS": "300"}
    )
    assert result.exit_code == 1, result.output
    assert "size mismatch for model.embed_tokens.weight" in result.output
    line = next(x for x in result.output.splitlines() if "Ray logs kept in" in x)
    kept = Path(line.split("Ray logs kept in ")[1].split(" ")[0])
    assert kept.parent == tmp_path and kept.name.startswith("mkd-serve-logs-")
    assert (kept / "serve" / "replica_mkd_Student_abc.log").exists()
    assert not cluster.temp_dir.exists()
