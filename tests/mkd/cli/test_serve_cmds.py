"""`mkd rollout plan|set` without a cluster (the live paths run in tests/serving)."""

from __future__ import annotations

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
