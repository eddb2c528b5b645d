"""Reports, gates and metrics on synthetic predictions (no model needed)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from mkd.config import parse_config
from mkd.evaluation.gates import check_gates
from mkd.evaluation.metrics import overall, percentile, task_metrics
from mkd.evaluation.predict import Prediction
from mkd.evaluation.report import before_after, to_html, to_markdown
from mkd.records import Record

QC = '{"category":"LOOKUP"}'
CUR = '{"currency":"USD","mention":"implicit","symbol":"$"}'


def _records() -> list[Record]:
    return [
        Record(input="Apple revenue FY2023", task="query_classifier", output=QC, reviewed=True),
        Record(
            input="What is EBITDA?", task="query_classifier", output='{"category":"DEFINITION"}'
        ),
        Record(input="Apple revenue FY2023", task="currency_identifier", output=CUR),
    ]


def _preds(answers: list[str | None], latency: float, prompt: int) -> list[Prediction]:
    tasks = ["query_classifier", "query_classifier", "currency_identifier"]
    return [
        Prediction(t, a, latency, prompt, 8, None if a and a.startswith("{") else "unparseable")
        for t, a in zip(tasks, answers, strict=True)
    ]


def _report(pack) -> dict:
    records = _records()
    truth = [r.output for r in records]
    runs = {
        "teacher": _preds(truth, 1.5, 400),
        "student": _preds([QC, '{"category":"LOOKUP"}', CUR], 0.2, 60),
        "base": _preds(["sure!", None, CUR], 0.25, 60),
    }
    cfg = parse_config({})
    models = {}
    for role, preds in runs.items():
        metrics = task_metrics(pack, records, preds, truth, "reviewed")
        models[role] = {
            "ref": role, "size_bytes": 1000, "tasks": {t: m.as_dict() for t, m in metrics.items()},
            "overall": overall(metrics), "samples": {"latency_s": [p.latency_s for p in preds]},
        }  # fmt: skip
    gates = check_gates(cfg.evaluation, task_metrics(pack, records, runs["student"], truth))
    report = {
        "id": "t1", "created_at": "now", "dataset": "finance/v1", "split": "test", "items": 3,
        "candidate": {"ref": "run:1"}, "models": models,
        "gates": {"passed": all(g.passed for g in gates), "results": [g.__dict__ for g in gates]},
    }  # fmt: skip
    report["before_after"] = before_after(models, cfg.evaluation)
    return report


def test_metrics_score_agreement_gold_and_violations(pack):
    records = _records()
    preds = _preds(["oops", '{"category":"DEFINITION"}', CUR], 0.1, 50)
    m = task_metrics(pack, records, preds, [r.output for r in records], "reviewed")
    qc = m["query_classifier"]
    assert qc.score == 0.5 and qc.violation_rate == 0.5 and qc.agreement == 0.5
    assert qc.gold_count == 1 and qc.gold_score == 0.0
    assert m["currency_identifier"].score == 1.0
    assert percentile([1, 2, 3, 4], 50) == 2 and percentile([], 95) == 0.0


def test_gates_fail_names_task_and_check(pack):
    report = _report(pack)
    failed = [g for g in report["gates"]["results"] if not g["passed"]]
    assert {(g["task"], g["check"]) for g in failed} == {("query_classifier", "agreement")}
    assert not report["gates"]["passed"]


def test_before_after_table_has_the_article_rows(pack):
    rows = {r["metric"]: r for r in _report(pack)["before_after"]}
    assert set(rows) >= {
        "accuracy (mean task score)", "latency / query (s)", "model size", "tokens / query",
        "cost / 1k queries (USD)",
    }  # fmt: skip
    assert rows["latency / query (s)"]["change"] == "87% faster"
    assert rows["tokens / query"]["change"].endswith("fewer")
    assert rows["cost / 1k queries (USD)"]["change"].endswith("cheaper")


def test_markdown_and_html_are_self_contained(pack):
    report = _report(pack)
    md = to_markdown(report)
    assert "| query_classifier | 1.000 | 0.500 | 0.000 |" in md and "Gates: FAILED" in md
    page = to_html(report)
    assert page.count("data:image/png;base64,") == 3
    assert "src='http" not in page and "<script" not in page


@pytest.mark.slow
def test_html_report_renders_its_plots_in_headless_chromium(pack, tmp_path: Path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    page = tmp_path / "report.html"
    page.write_text(to_html(_report(pack)), encoding="utf-8")
    shot = tmp_path / "shot.png"
    # --dump-dom after load proves the page parsed; the screenshot proves it painted.
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", f"--screenshot={shot}",
           "--window-size=1200,2000", page.as_uri()]  # fmt: skip
    subprocess.run(cmd, capture_output=True, timeout=120, check=True)
    from PIL import Image

    image = Image.open(shot).convert("RGB")
    assert image.size == (1200, 2000)
    colours = image.resize((120, 200)).getcolors(maxcolors=100000)
    assert len(colours) > 50  # plots and tables painted, not a blank page
    dom = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout  # fmt: skip
    for plot in ("plot-scores", "plot-latency", "plot-tokens"):
        assert f'id="{plot}"' in dom


def test_guard_parity_is_in_the_report() -> None:
    from mkd.config import load_config
    from mkd.evaluation.job import guard_parity
    from mkd.evaluation.report import _parity_markdown

    parity = guard_parity(load_config(None))
    assert parity["n"] >= 150 and parity["differ_rate"] == 0.0
    text = "\n".join(_parity_markdown(parity))
    assert "decisions differ on 0" in text and "pii P 1.00" in text
