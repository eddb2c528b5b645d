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
