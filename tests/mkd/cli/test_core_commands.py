"""The CLI as a user runs it: help everywhere, validate and score with line-numbered errors."""

from __future__ import annotations

import json

import pytest
from mkd.cli.main import app
from typer.main import get_command
from typer.testing import CliRunner

runner = CliRunner()


def _all_command_paths() -> list[list[str]]:
    paths: list[list[str]] = []

    def walk(cmd, prefix):
        paths.append(prefix)
        for name, sub in getattr(cmd, "commands", {}).items():
            walk(sub, [*prefix, name])

    walk(get_command(app), [])
    return paths


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.startswith("mkd ")


@pytest.mark.parametrize("path", _all_command_paths(), ids=lambda p: " ".join(p) or "mkd")
def test_every_command_has_help(path) -> None:
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_tasks_show_unknown_task() -> None:
    result = runner.invoke(app, ["tasks", "show", "nope"])
    assert result.exit_code == 1
    assert "unknown task 'nope'" in result.output


def _line(**kw) -> str:
    return json.dumps(kw, ensure_ascii=False)


def test_validate_reports_every_problem_with_line_numbers(tmp_path) -> None:
    f = tmp_path / "d.jsonl"
    f.write_text(
        "\n".join(
            [
                _line(input="Top 5 banks", task="query_classifier", output='{"category":"LIST"}'),
                "{this is not json",
                _line(input="x", task="curency", output="{}"),
                _line(
                    input="What is EBITDA?", task="query_classifier", output='{"category":"DEF"}'
                ),
            ]
        )
        + "\n"
    )
    result = runner.invoke(app, ["validate", str(f)])
    assert result.exit_code == 1
    out = " ".join(result.output.split())
    assert f"{f}:2: not valid JSON" in out
    assert "unknown task 'curency'" in out
    assert ":3:" in out and ":4:" in out and "task query_classifier: output schema" in out
    assert "3 problem(s) in 4 record(s)" in out


def test_validate_ok(tmp_path) -> None:
    f = tmp_path / "ok.jsonl"
    f.write_text(_line(input="q", task="query_classifier", output='{"category":"LIST"}') + "\n")
    result = runner.invoke(app, ["validate", str(f)])
    assert result.exit_code == 0, result.output


def test_score_article_example_json(tmp_path) -> None:
    truth = tmp_path / "truth.jsonl"
    pred = tmp_path / "pred.jsonl"
    ents = lambda *n: json.dumps([{"name": x, "type": "COMPANY"} for x in n])  # noqa: E731
    truth.write_text(
        _line(input="telcos", task="entity_extractor", output=ents("Jio", "Airtel"))
        + "\n"
        + _line(input="q", task="query_classifier", output='{"category":"LIST"}')
        + "\n"
    )
    pred.write_text(
        _line(input="telcos", task="entity_extractor", output=ents("Jio", "Airtel", "Vodafone"))
        + "\n"
        + _line(input="q", task="query_classifier", output="not json")
        + "\n"
    )
    result = runner.invoke(app, ["score", "--truth", str(truth), "--pred", str(pred), "--json"])
    assert result.exit_code == 0, result.output
    scores = json.loads(result.output)
    assert scores["entity_extractor"]["score"] == 1.0
    assert round(scores["entity_extractor"]["precision"], 2) == 0.67
    assert scores["query_classifier"]["violation_rate"] == 1.0
    table = runner.invoke(app, ["score", "--truth", str(truth), "--pred", str(pred)])
    assert table.exit_code == 0 and "entity_extractor" in table.output
