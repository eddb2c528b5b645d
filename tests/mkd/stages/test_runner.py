"""mkd.stages.runner: every row of the exit-code table, through the runner's own entry points.

Rows a user can cause with real input run the real stages (a bad config, a missing config or
input, an unknown --until, an existing dataset version, a bad JSONL line). Rows that need a
stage to end a particular way (gates missed, training failed, a service gone, Ctrl-C) replace the
augment stage's body with one that ends that way: running a real training to failure is minutes
of CPU for the same runner code path; the runner, its config loading and printing stay real.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from mkd.stages import Outcome
from mkd.stages.runner import ERROR_EXIT, STATUS_EXIT, exit_code_for, main, run_stage


def _config(tmp_path: Path, **sections) -> Path:
    path = tmp_path / "pipeline.yaml"
    data = {"store": {"uri": f"file://{tmp_path / 'store'}"}, **sections}
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def _stage_body(monkeypatch, body) -> None:
    """The augment stage's body replaced (see the module docstring for why)."""
    monkeypatch.setattr("mkd.stages.augment.run", body)


@pytest.mark.parametrize(("status", "expected"), [("done", 0), ("nothing_to_do", 0), ("failed", 1)])
def test_an_outcome_exits_with_its_status_code(status, expected, tmp_path, monkeypatch, capsys):
    outcome = Outcome(stage="augment", status=status, message="why", summary={"prompts": 3})
    _stage_body(monkeypatch, lambda config, context: outcome)
    assert main(["augment", "-c", str(_config(tmp_path))]) == expected
    out, err = capsys.readouterr()
    assert out.count("augment ") == 1 and "prompts 3" in out  # printed once, on stdout
    assert ("error: why" in err) == (status == "failed")
    assert ("nothing to do: why" in out) == (status == "nothing_to_do")


@pytest.mark.parametrize(
    ("error", "expected", "printed"),
    [
        (RuntimeError("TrainingFailedError: workers died 3 times"), 1, "augment failed: "),
        (ConnectionRefusedError("teacher at 127.0.0.1:1 refused"), 1, "augment failed: "),
        (ValueError("tasks[0]: unknown task 'x'"), 2, "error: tasks[0]"),
        (FileNotFoundError("runs/r9/manifest.json does not exist"), 2, "error: runs/r9"),
        (FileExistsError("dataset finance/v1 already exists"), 2, "error: dataset"),
        (KeyboardInterrupt(), 130, "interrupted"),
    ],
)
def test_an_error_exits_with_its_table_code(
    error, expected, printed, tmp_path, monkeypatch, capsys
):
    def body(config, context):
        raise error

    _stage_body(monkeypatch, body)
    assert main(["augment", "-c", str(_config(tmp_path))]) == expected
    assert printed in capsys.readouterr().err


def test_an_error_outside_the_table_is_a_bug_and_keeps_its_traceback(tmp_path, monkeypatch):
    def body(config, context):
        raise KeyError("bug")

    _stage_body(monkeypatch, body)
    assert exit_code_for(KeyError("bug")) is None
    with pytest.raises(KeyError, match="bug"):
        run_stage("augment", _config(tmp_path))


def test_the_table_lists_subclasses_before_their_bases():
    types = [t for t, _ in ERROR_EXIT]
    for i, earlier in enumerate(types):
        for later in types[i + 1 :]:
            assert not issubclass(later, earlier), f"{later.__name__} is shadowed"
    assert set(STATUS_EXIT) == {"done", "nothing_to_do", "failed"}


def test_a_bad_config_names_the_field_and_exits_2(tmp_path, capsys):
    config = _config(tmp_path, teacher={"backend": "nonsense"})
    assert main(["augment", "-c", str(config)]) == 2
    assert "teacher.backend" in capsys.readouterr().err


def test_a_missing_config_exits_2(tmp_path, capsys):
    assert main(["augment", "-c", str(tmp_path / "missing.yaml")]) == 2
    assert "missing.yaml: cannot read the config" in capsys.readouterr().err


def test_a_bad_command_line_exits_2(tmp_path):
    with pytest.raises(SystemExit) as exited:
        main(["train", "-c", str(_config(tmp_path)), "--no-such-option"])
    assert exited.value.code == 2
    with pytest.raises(SystemExit) as exited:
        main(["no-such-stage", "-c", str(_config(tmp_path))])
    assert exited.value.code == 2


def test_an_unknown_until_stage_exits_2(tmp_path, capsys):
    assert main(["pipeline", "-c", str(_config(tmp_path)), "--until", "deploy"]) == 2
    assert "unknown stage 'deploy' for --until" in capsys.readouterr().err


def test_a_missing_input_exits_2(tmp_path, capsys):
    assert main(["dataset", "-c", str(_config(tmp_path))]) == 2  # nothing labeled yet
    assert "labeled.jsonl does not exist" in capsys.readouterr().err


def test_an_existing_dataset_version_exits_2(tmp_path, capsys):
    manifest = tmp_path / "store" / "datasets" / "finance" / "v1" / "manifest.json"
    manifest.parent.mkdir(parents=True)
    manifest.write_text("{}")
    assert main(["build", "-c", str(_config(tmp_path))]) == 2
    assert "versions are immutable" in capsys.readouterr().err


def test_a_bad_input_line_exits_2_and_names_it(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # predict without -c: the default store ./mkd-store
    queries = tmp_path / "q.jsonl"
    queries.write_text(json.dumps({"input": "x", "task": "sentiment"}) + "\n")
    argv = ["predict", "-m", "teacher", "-i", str(queries), "-o", str(tmp_path / "a.jsonl")]
    assert main(argv) == 2
    assert "q.jsonl:1: unknown task 'sentiment'" in capsys.readouterr().err.replace("\n", "")
    assert not (tmp_path / "a.jsonl").exists()
