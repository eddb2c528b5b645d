"""Reports, gates and metrics on synthetic predictions (no model needed)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from mkd.config import parse_config
from mkd.evaluation.gates import check_gates
from mkd.evaluation.metrics import (
    agreement_interval,
    family_interval,
    gold_labels,
    overall,
    percentile,
    task_metrics,
)
from mkd.evaluation.predict import Prediction
from mkd.evaluation.report import _agreement_cell, before_after, to_html, to_markdown
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
    # the interval and sample-size gates have tests of their own below
    gate = {"min_items": 1, "min_agreement_lower_bound": 0.0}
    cfg = parse_config({"evaluation": {"default_gate": gate}})
    models = {}
    for role, preds in runs.items():
        metrics = task_metrics(pack, records, preds, truth, gold_labels(records, "reviewed", {}))
        models[role] = {
            "ref": role, "size_bytes": 1000, "tasks": {t: m.as_dict() for t, m in metrics.items()},
            "overall": overall(metrics), "samples": {"latency_s": [p.latency_s for p in preds]},
            "request_latency": {"p50_s": preds[0].latency_s, "p95_s": preds[0].latency_s, "n": 3},
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
    gold = gold_labels(records, "reviewed", {})
    m = task_metrics(pack, records, preds, [r.output for r in records], gold)
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


def test_before_after_table_has_the_article_rows_and_names_what_is_assumed(pack):
    rows = {r["metric"]: r for r in _report(pack)["before_after"]}
    assert set(rows) >= {
        "query_classifier: agreement with teacher [95% interval]", "mean agreement with teacher",
        "score vs human gold labels", "latency / request, p50 (s)", "model size",
        "tokens / query", "cost / 1k queries (USD, assumed prices)",
    }  # fmt: skip
    assert "accuracy (mean task score)" not in rows  # the same number as agreement, renamed
    agreement = rows["query_classifier: agreement with teacher [95% interval]"]
    assert agreement["teacher"] == "1 (the reference)"
    assert agreement["student"].startswith("0.500 [") and agreement["student"].endswith("n=2")
    assert rows["score vs human gold labels"]["student"] == "1.000 (n=1)"
    assert rows["latency / request, p50 (s)"]["change"].startswith("87% faster")
    assert rows["tokens / query"]["change"].endswith("fewer")
    cost = rows["cost / 1k queries (USD, assumed prices)"]["change"]
    assert "cheaper" in cost and "assumed: " in cost and "(evaluation.prices)" in cost
    assert rows["model size"]["teacher"].endswith("(assumed: evaluation.teacher_size)")


def test_the_gate_holds_on_the_interval_low_end_and_a_minimum_sample(pack):
    from mkd.evaluation.metrics import TaskMetrics

    cfg = parse_config({}).evaluation  # defaults: agreement 0.90, low end 0.85, 100 items

    def metrics(agreement: float, n: int) -> dict[str, TaskMetrics]:
        low, high = agreement_interval(agreement, n)
        m = TaskMetrics(task="query_classifier", count=n, score=agreement, precision=None,
                        f1=None, violation_rate=0.0, agreement=agreement,
                        exact_agreement=agreement, agreement_low=low, agreement_high=high,
                        latency_p50_s=0.1, latency_p95_s=0.1, prompt_tokens=1,
                        output_tokens=1, seconds_per_query=0.1)  # fmt: skip
        return {"query_classifier": m}

    def failed(agreement: float, n: int) -> set[str]:
        return {g.check for g in check_gates(cfg, metrics(agreement, n)) if not g.passed}

    assert failed(0.92, 20) == {"agreement_lower_bound", "items"}  # 0.92 on 20 items proves little
    assert failed(0.92, 400) == set()
    assert failed(0.91, 120) == {"agreement_lower_bound"}  # low end 0.845
    assert failed(0.88, 1000) == {"agreement"}


def test_markdown_and_html_are_self_contained(pack):
    report = _report(pack)
    md = to_markdown(report)
    assert "| query_classifier | 1.000 | 0.500 | 0.000 |" in md and "Gates: FAILED" in md
    assert "<table>" in to_html(report) and "| metric |" not in to_html(report)
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


def test_agreement_interval_is_wilson_and_stays_inside_zero_and_one():
    low, high = agreement_interval(0.9, 100)
    assert low == pytest.approx(0.8256, abs=1e-3) and high == pytest.approx(0.9448, abs=1e-3)
    assert agreement_interval(1.0, 100)[0] == pytest.approx(0.963, abs=1e-3)
    assert (
        agreement_interval(1.0, 100)[1] == pytest.approx(1.0)
        and agreement_interval(0.0, 10)[0] == 0.0
    )
    # 20 items cannot tell 0.9 from 0.8; 100 items nearly can
    assert agreement_interval(0.9, 20)[0] < 0.7 < agreement_interval(0.9, 100)[0]


def test_the_pack_gold_labels_score_every_model_where_a_test_query_has_one(pack):
    records = _records()
    truth = [r.output for r in records]
    human = {
        (records[2].input, records[2].task): '{"currency":null,"mention":"none","symbol":null}'
    }
    gold = gold_labels(records, "reviewed", human)
    assert gold[2] == human[(records[2].input, records[2].task)]
    m = task_metrics(pack, records, _preds(truth, 0.1, 50), truth, gold)
    assert m["currency_identifier"].gold_count == 1 and m["currency_identifier"].gold_score == 0.0
    assert pack.gold_answers()  # the finance pack ships hand labels


def test_guard_parity_of_a_family_with_nothing_flagged_reads_n_a() -> None:
    from mkd.evaluation.report import _parity_markdown

    empty = {"precision": None, "recall": None}
    path = {"accuracy": 1.0, "by_family": {"pii": empty}}
    parity = {"n": 3, "differ": 0, "differ_rate": 0.0, "teacher": path, "student": path}
    assert "pii P n/a R n/a" in "\n".join(_parity_markdown(parity))


def test_the_interval_widens_when_a_family_is_right_or_wrong_as_a_whole():
    independent = [1.0] * 80 + [0.0] * 20
    one_each = [f"f{i}" for i in range(100)]
    low, high, deff = family_interval(independent, one_each)
    assert deff == pytest.approx(1.0, abs=0.02)
    assert (low, high) == pytest.approx(agreement_interval(0.8, 100), abs=0.002)
    # the same 0.8 in 20 families of 5 that agree within themselves: 20 observations, not 100
    low, high, deff = family_interval(independent, [f"f{i // 5}" for i in range(100)])
    assert deff == pytest.approx(5.0 * 20 / 19, rel=1e-6)
    assert low < agreement_interval(0.8, 25)[0] < agreement_interval(0.8, 100)[0]
    # mixed families: clustering never makes the interval narrower than the independent one
    mixed = [float(i % 2) for i in range(100)]
    assert family_interval(mixed, [f"f{i // 2}" for i in range(100)])[2] == 1.0
    assert family_interval([1.0, 0.0, 1.0], ["a", "a", "a"])[2] == 3.0  # one family: one draw
    assert family_interval([1.0] * 10, [f"f{i // 2}" for i in range(10)])[2] == 1.0


def test_task_metrics_cluster_by_the_records_family_and_the_cell_says_so(pack):
    records = [
        Record(input=f"Apple revenue FY20{i:02d}", task="query_classifier", output=QC,
               family=f"fam{i // 3}")
        for i in range(9)
    ]  # fmt: skip
    wrong = '{"category":"LIST"}'
    answers = [QC] * 6 + [wrong] * 3  # the third family is wrong as a whole
    preds = [Prediction("query_classifier", a, 0.1, 10, 4, None) for a in answers]
    m = task_metrics(pack, records, preds, [r.output for r in records])["query_classifier"]
    assert m.families == 3 and m.design_effect > 1.0
    assert m.agreement_low < agreement_interval(m.agreement, 9)[0]
    assert _agreement_cell(m.as_dict()).endswith("n=9 in 3 families")
