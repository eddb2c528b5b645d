"""`mkd models list|show|promote|rollback` against a local store."""

from __future__ import annotations

from pathlib import Path

import yaml
from mkd.cli.main import app
from mkd.registry import Registry
from mkd.storage import open_store
from typer.testing import CliRunner


def _setup(tmp_path: Path) -> tuple[Path, Registry]:
    store_dir = tmp_path / "store"
    cfg = tmp_path / "pipeline.yaml"
    cfg.write_text(yaml.safe_dump({"store": {"uri": f"file://{store_dir}"}}))
    registry = Registry(open_store(f"file://{store_dir}"))
    registry.register("finance-student", {"variant": "adapter", "gates": {"passed": True}})
    registry.register(
        "finance-student", {"variant": "adapter", "gates": {"passed": False}}, stage="rejected"
    )
    return cfg, registry


def test_models_commands_promote_refuse_force_and_roll_back(tmp_path: Path):
    cfg, registry = _setup(tmp_path)
    run = lambda *a: CliRunner().invoke(app, [*a, "-c", str(cfg)])  # noqa: E731
    listing = run("models", "list")
    assert listing.exit_code == 0 and "finance-student:2" in listing.output
    assert run("models", "promote", "finance-student:1", "production").exit_code == 0
    refused = run("models", "promote", "finance-student:2", "production")
    assert refused.exit_code == 1 and "failed its gates" in refused.output
    forced = run(
        "models", "promote", "finance-student:2", "production", "--force", "--reason", "hotfix"
    )
    assert forced.exit_code == 0 and "finance-student:1 archived" in forced.output
    back = run("models", "rollback", "finance-student", "--reason", "agreement fell")
    assert back.exit_code == 0, back.output
    assert registry.resolve("finance-student@production").version == 1
    shown = run("models", "show", "finance-student@production")
    assert shown.exit_code == 0 and "rollback" in shown.output and "agreement fell" in shown.output


def test_promote_names_the_failed_gates_and_refuses_unevaluated_versions(tmp_path: Path):
    cfg, registry = _setup(tmp_path)
    registry.register(
        "finance-student",
        {"variant": "adapter", "gates": {"passed": False, "failed": ["entity_extractor/items"]}},
        stage="rejected",
    )
    registry.register("finance-student", {"variant": "adapter"})  # never evaluated
    run = lambda *a: CliRunner().invoke(app, [*a, "-c", str(cfg)])  # noqa: E731
    refused = run("models", "promote", "finance-student:3", "canary")
    assert refused.exit_code == 1 and "entity_extractor/items" in refused.output
    unevaluated = run("models", "promote", "finance-student:4", "canary")
    assert unevaluated.exit_code == 1 and "no gate results" in unevaluated.output
    forced = run("models", "promote", "finance-student:4", "canary", "--force", "--reason", "drill")
    assert forced.exit_code == 0, forced.output
    assert registry.history("finance-student")[-1]["forced"] is True


def test_models_commands_refuse_a_reference_outside_the_grammar(tmp_path: Path):
    cfg, _ = _setup(tmp_path)
    result = CliRunner().invoke(app, ["models", "show", "finance-student@3", "-c", str(cfg)])
    assert result.exit_code == 2
    assert "NAME:VERSION" in result.output and "NAME@STAGE" in result.output
