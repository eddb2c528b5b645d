"""The CLI's stage commands: one factory over mkd.stages, the runner's options and exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from mkd.cli.main import app
from mkd.cli.stage_cmds import STAGE_COMMANDS
from mkd.stages import stage_module
from typer.testing import CliRunner


@pytest.mark.parametrize("spec", STAGE_COMMANDS, ids=lambda spec: " ".join(spec.path))
def test_every_stage_command_takes_its_stage_options(spec):
    result = CliRunner().invoke(app, [*spec.path, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for option in stage_module(spec.stage).OPTIONS:
        assert option.flags[0] in result.output, (spec.path, option.flags)
    assert "--config" in result.output and "Example: mkd " in result.output


def test_a_finished_dataset_version_is_refused_with_exit_2(tmp_path: Path):
    manifest = tmp_path / "store" / "datasets" / "finance" / "v1" / "manifest.json"
    manifest.parent.mkdir(parents=True)
    manifest.write_text("{}")
    config = tmp_path / "pipeline.yaml"
    config.write_text(yaml.safe_dump({"store": {"uri": f"file://{tmp_path / 'store'}"}}))
    result = CliRunner().invoke(app, ["data", "build", "-c", str(config)])
    assert result.exit_code == 2
    assert "versions are immutable" in result.output


def test_a_bad_config_exits_2_naming_the_field(tmp_path: Path):
    config = tmp_path / "pipeline.yaml"
    config.write_text("training: {max_stepz: 3}\n")
    result = CliRunner().invoke(app, ["train", "-c", str(config)])
    assert result.exit_code == 2
    assert "training.max_stepz" in result.output
