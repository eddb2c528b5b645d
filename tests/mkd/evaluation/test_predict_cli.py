"""`mkd predict` on a user's own JSONL, as a user would run it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from mkd.cli.main import app
from typer.testing import CliRunner

QUERIES = [
    {"input": "Top 5 Indian banks by net profit in FY24", "task": "query_classifier"},
    {"input": "How many unicorns did AI create since 2023", "task": "currency_identifier"},
    {"input": "Compare Amazon and Walmart net sales", "task": "entity_extractor", "id": "q3"},
    {"input": "revenue over the last 3 years", "task": "date_interpretation",
     "context": {"as_of": "2025-06-30"}},
]  # fmt: skip


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return path


def test_predict_with_the_teacher_and_no_config(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the default store ./mkd-store is relative to where it runs
    src, out = _write(tmp_path / "q.jsonl", QUERIES), tmp_path / "a.jsonl"
    result = CliRunner().invoke(
        app, ["predict", "--model", "teacher", "--input", str(src), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [x["task"] for x in lines] == [q["task"] for q in QUERIES]
    assert json.loads(lines[0]["output"]) == {"category": "LIST"}
    assert lines[2]["id"] == "q3" and lines[3]["context"] == {"as_of": "2025-06-30"}
    assert all("violation" not in x and x["prompt_tokens"] > 0 for x in lines)
    assert "4 answer(s) from teacher" in result.output


def test_predict_names_the_bad_line(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    src = _write(tmp_path / "q.jsonl", [QUERIES[0], {"input": "x", "task": "sentiment"}])
    result = CliRunner().invoke(app, ["predict", "-m", "teacher", "-i", str(src), "-o", "a.jsonl"])
    assert result.exit_code == 2  # bad input
    assert "q.jsonl:2: unknown task 'sentiment'" in result.output.replace("\n", "")
    assert not (tmp_path / "a.jsonl").exists()


@pytest.mark.slow
def test_predict_with_a_student_run_from_a_config(eval_config, tmp_path: Path):
    cfg_file = tmp_path / "pipeline.yaml"
    cfg_file.write_text(yaml.safe_dump(eval_config.model_dump(mode="json")))
    src, out = _write(tmp_path / "q.jsonl", QUERIES), tmp_path / "a.jsonl"
    args = ["predict", "-c", str(cfg_file), "--model", "run:run-1", "-i", str(src), "-o", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(lines) == 4 and all(x["model"] == "run:run-1" for x in lines)
    # a random tiny model, decoded as served (under the schema): valid JSON, random content
    assert all(x["output_tokens"] >= 1 and "violation" not in x for x in lines)
    assert all(json.loads(x["output"]) is not None for x in lines)
