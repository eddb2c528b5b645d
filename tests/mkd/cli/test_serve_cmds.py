"""`mkd rollout plan|set` without a cluster (the live paths run in tests/serving)."""

from __future__ import annotations

from pathlib import Path

from mkd.cli.main import app
from typer.testing import CliRunner

runner = CliRunner()


def test_rollout_plan_prints_every_stage_with_its_gate():
    result = runner.invoke(
        app, ["rollout", "plan", "-c", "configs/serve.yaml"], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    for stage in ("shadow", "canary 5%", "canary 25%", "canary 50%", "canary 100%"):
        assert stage in result.output
    assert "mkd rollout set --weight 0.05" in result.output


def test_rollout_set_needs_a_change():
    result = runner.invoke(app, ["rollout", "set"])
    assert result.exit_code == 1
    assert "--weight" in result.output


def test_rollout_set_refuses_an_unknown_mode():
    result = runner.invoke(app, ["rollout", "set", "--mode", "blue-green"])
    assert result.exit_code == 1
    assert "split or shadow" in result.output


def test_serve_refuses_an_invalid_config(tmp_path):
    bad = tmp_path / "serve.yaml"
    bad.write_text(
        "applications:\n  - name: mkd\n    import_path: serving.app:build_app\n    args: {student: {backend: onnx}}\n"
    )
    result = runner.invoke(app, ["serve", "-c", str(bad)])
    assert result.exit_code == 1
    assert "backend" in result.output


# -- gates at deploy (issue 17) ---------------------------------------------------------------
FAILED = {"passed": False, "failed": ["date_interpretation/agreement"]}


def _store_with_versions(tmp_path):
    """finance-student:1 passed its gates, :2 failed date_interpretation/agreement."""
    from mkd.registry import Registry
    from mkd.storage import open_store

    uri = f"file://{tmp_path}/store"
    registry = Registry(open_store(uri))
    registry.register("finance-student", {"gates": {"passed": True, "failed": []}})
    registry.register("finance-student", {"gates": FAILED}, stage="rejected")
    return {"uri": uri}


def _serve_yaml(tmp_path, **router):
    import yaml

    config = yaml.safe_load(Path("configs/serve.yaml").read_text())
    app_entry = config["applications"][0]
    app_entry["args"]["store"] = _store_with_versions(tmp_path)
    app_entry["deployments"][0]["user_config"].update(router)
    path = tmp_path / "serve.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


class _ClusterWouldStart(RuntimeError):
    pass


def _no_cluster(monkeypatch):
    def start(*_a, **_k):
        raise _ClusterWouldStart("the gate check let it through")

    monkeypatch.setattr("mkd.services.ray_local.start_ray_cluster", start)


def test_serve_refuses_a_failed_version_with_traffic_before_starting_a_cluster(
    tmp_path, monkeypatch
):
    _no_cluster(monkeypatch)
    config = _serve_yaml(tmp_path, mode="split", student_weight=0.1)
    result = runner.invoke(app, ["serve", "-c", str(config), "--version", "finance-student:2"])
    assert result.exit_code == 1, result.output
    assert "failed its gates: date_interpretation/agreement" in result.output
    assert "--force" in result.output


def test_serve_force_and_shadow_let_a_failed_version_through(tmp_path, monkeypatch):
    _no_cluster(monkeypatch)
    split = _serve_yaml(tmp_path, mode="split", student_weight=0.1)
    forced = runner.invoke(
        app, ["serve", "-c", str(split), "--version", "finance-student:2", "--force"]
    )
    assert isinstance(forced.exception, _ClusterWouldStart), forced.output
    assert "FORCED" in forced.output
    shadow = _serve_yaml(tmp_path, mode="shadow", student_weight=0.0)
    result = runner.invoke(app, ["serve", "-c", str(shadow), "--version", "finance-student:2"])
    assert isinstance(result.exception, _ClusterWouldStart), result.output


def test_serve_refuses_a_reference_outside_the_grammar():
    result = runner.invoke(app, ["serve", "--version", "finance-student@3"], env={"COLUMNS": "300"})
    assert result.exit_code == 2
    assert "NAME:VERSION" in result.output and "unknown stage '3'" in result.output


class _Dashboard:
    """control.current_config/update_live_config stand-ins: a deployed app, updates recorded."""

    def __init__(self, tmp_path, version: str, **router) -> None:
        self.config = {"applications": [{
            "name": "mkd", "import_path": "serving.app:build_app",
            "args": {"student": {"version": version}, "store": _store_with_versions(tmp_path)},
            "deployments": [{"name": "Router", "user_config": {"mode": "shadow", **router}}],
        }]}  # fmt: skip
        self.updates: list[dict] = []

    def install(self, monkeypatch) -> _Dashboard:
        monkeypatch.setattr("mkd.serve.control.current_config", lambda _url: self.config)

        def update(_url, deployment, changes):
            self.updates.append(changes)
            return {"mode": "split", "student_weight": 0, "task_overrides": {}, **changes}

        monkeypatch.setattr("mkd.serve.control.update_live_config", update)
        return self


def test_rollout_set_refuses_weight_for_a_failed_version(tmp_path, monkeypatch):
    dash = _Dashboard(tmp_path, "finance-student:2").install(monkeypatch)
    result = runner.invoke(app, ["rollout", "set", "--weight", "0.05"])
    assert result.exit_code == 1, result.output
    assert "failed its gates: date_interpretation/agreement" in result.output
    assert dash.updates == []
    per_task = ["--mode", "split", "--weight", "0.5", "--task", "query_classifier"]
    assert runner.invoke(app, ["rollout", "set", *per_task]).exit_code == 1
    # a per-task weight under the global shadow mode gives the student no traffic
    shadowed = ["--weight", "0.5", "--task", "query_classifier"]
    assert runner.invoke(app, ["rollout", "set", *shadowed]).exit_code == 0
    assert dash.updates == [{"task_overrides": {"query_classifier": {"student_weight": 0.5}}}]


def test_rollout_set_force_weight_0_and_shadow_go_through(tmp_path, monkeypatch):
    dash = _Dashboard(tmp_path, "finance-student:2").install(monkeypatch)
    forced = runner.invoke(app, ["rollout", "set", "--weight", "0.05", "--force"])
    assert forced.exit_code == 0 and "FORCED" in forced.output, forced.output
    assert runner.invoke(app, ["rollout", "set", "--weight", "0"]).exit_code == 0
    assert runner.invoke(app, ["rollout", "set", "--mode", "shadow"]).exit_code == 0
    assert dash.updates == [
        {"mode": "split", "student_weight": 0.05},
        {"mode": "split", "student_weight": 0.0},
        {"mode": "shadow"},
    ]


def test_rollout_set_lets_a_passed_version_take_traffic(tmp_path, monkeypatch):
    dash = _Dashboard(tmp_path, "finance-student:1").install(monkeypatch)
    result = runner.invoke(app, ["rollout", "set", "--weight", "0.25"])
    assert result.exit_code == 0, result.output
    assert dash.updates == [{"mode": "split", "student_weight": 0.25}]


def test_rollout_set_force_goes_on_without_a_readable_registry(tmp_path, monkeypatch):
    """Should refuse without --force and apply with it when the version cannot be resolved."""
    dash = _Dashboard(tmp_path, "finance-student:9").install(monkeypatch)
    refused = runner.invoke(app, ["rollout", "set", "--weight", "0.05"])
    assert refused.exit_code == 1 and "does not exist" in refused.output
    forced = runner.invoke(app, ["rollout", "set", "--weight", "0.05", "--force"])
    assert forced.exit_code == 0 and "without a gate record" in forced.output, forced.output
    assert dash.updates == [{"mode": "split", "student_weight": 0.05}]
