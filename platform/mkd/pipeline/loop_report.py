"""The loop's report: v(N) (the current version) vs v(N+1) (the candidate), per task, on the
fixed benchmark and on the new items. JSON (the record), Markdown, and a PNG of the scores.

Both versions answer the same items of each set with the same settings, scored against the
dataset's teacher labels (`score`, the task's scorer) with the share of schema violations.
"""

from __future__ import annotations

import json
import time
from typing import Any

from mkd.config import PipelineConfig
from mkd.evaluation.report import _md_table, _png
from mkd.storage import Store
from mkd.store_layout import loop_prefix

SET_TITLES = {"benchmark": "fixed benchmark (test.jsonl)", "new": "new items (test_new.jsonl)"}
ROLES = ("current", "candidate")


def _cell(m: dict | None) -> dict[str, Any] | None:
    if m is None:
        return None
    keep = ("score", "agreement", "violation_rate", "count")
    return {k: m[k] for k in keep if k in m}


def _delta(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else round(b - a, 4)


def build_loop_report(
    cfg: PipelineConfig,
    plan: dict[str, Any],
    models: dict[str, str | None],
    results: dict[str, dict[str, dict[str, Any]]],
    store: Store,
    outputs: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    """The comparison's data: per set, per task, each version's metrics and the change."""
    from mkd.registry import Registry

    tasks: dict[str, dict[str, Any]] = {}
    overall: dict[str, dict[str, Any]] = {}
    for set_name, by_role in results.items():
        names = sorted({t for r in by_role.values() for t in r["tasks"]})
        for task in names:
            cells = {
                role: _cell(by_role.get(role, {}).get("tasks", {}).get(task)) for role in ROLES
            }
            score = {r: (c or {}).get("score") for r, c in cells.items()}
            tasks.setdefault(task, {})[set_name] = {
                **cells,
                "delta": _delta(score["current"], score["candidate"]),
            }
        means = {role: by_role[role]["overall"].get("score") for role in ROLES if role in by_role}
        overall[set_name] = {
            **means,
            "delta": _delta(means.get("current"), means.get("candidate")),
            "items": {role: by_role[role]["items"] for role in by_role},
            "reports": {role: by_role[role]["report"] for role in by_role},
        }
    evaluation = outputs.get("evaluate", {})
    stage = gates = None
    if evaluation.get("version"):
        mv = Registry(store).resolve(evaluation["version"])
        stage, gates = mv.stage, mv.manifest.get("gates")
    ds = outputs.get("dataset", {})
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return {
        "kind": "loop",
        "created_at": created,
        "pipeline": cfg.name,
        "dataset": plan["dataset"],
        "parent": plan["parent_ref"],
        "models": models,
        "candidate_stage": stage,
        "gates": {"passed": (gates or {}).get("passed"), "failed": (gates or {}).get("failed")},
        "gate_report": evaluation.get("report_uri"),
        "warm_start": plan.get("current") if cfg.loop.warm_start else None,
        "benchmark_sha256": ds.get("benchmark_sha256"),
        "new_items": ds.get("new_items"),
        "feedback": ds.get("feedback"),
        "metric": "score: the task's scorer against the dataset's teacher labels",
        "tasks": dict(sorted(tasks.items())),
        "overall": overall,
    }


def _fmt(v: float | None, signed: bool = False) -> str:
    if v is None:
        return "-"
    return f"{v:+.3f}" if signed else f"{v:.3f}"


def _gates_text(gates: dict[str, Any]) -> str:
    if gates.get("passed") is None:
        return "no gate results"
    if gates["passed"]:
        return "gates passed"
    return f"gates failed: {', '.join(gates.get('failed') or []) or 'unnamed'}"


def to_markdown(report: dict[str, Any]) -> str:
    models = report["models"]
    out = [f"# Loop turn: {report['parent']} -> {report['dataset']}", ""]
    out.append(
        f"v(N) = `{models.get('current') or 'none'}` (the current version), v(N+1) = "
        f"`{models.get('candidate')}` (stage {report.get('candidate_stage') or '-'}, "
        f"{_gates_text(report['gates'])}); warm start from {report.get('warm_start') or 'none'}. "
        f"Created {report['created_at']}."
    )
    out += ["", f"Metric: {report['metric']}; violations: answers breaking the task's schema.", ""]
    header = ["task"]
    sets = list(report["overall"])
    for s in sets:
        header += [f"{s}: v(N)", f"{s}: v(N+1)", f"{s}: change"]
    rows = []
    for task, by_set in report["tasks"].items():
        row = [task]
        for s in sets:
            cell = by_set.get(s, {})
            row += [
                _fmt((cell.get("current") or {}).get("score")),
                _fmt((cell.get("candidate") or {}).get("score")),
                _fmt(cell.get("delta"), signed=True),
            ]
        rows.append(row)
    mean = ["**mean**"]
    for s in sets:
        o = report["overall"][s]
        mean += [_fmt(o.get("current")), _fmt(o.get("candidate")), _fmt(o.get("delta"), True)]
    rows.append(mean)
    out.append(_md_table(header, rows))
    out += [""]
    for s in sets:
        o = report["overall"][s]
        items = ", ".join(f"{r} {n}" for r, n in o["items"].items())
        out.append(f"- {SET_TITLES.get(s, s)}: items {items}; reports: "
                   + ", ".join(f"{r} {u}" for r, u in o["reports"].items()))  # fmt: skip
    if "new" not in report["overall"]:
        out.append("- new items: none this turn")
    fb = report.get("feedback") or {}
    if fb:
        out.append(
            f"- feedback: {fb.get('entries', 0)} entries -> {fb.get('records', 0)} records, "
            f"{fb.get('skipped_in_parent', 0)} already in {report['parent']}, "
            f"{fb.get('duplicates', 0)} duplicates, {fb.get('quarantined', 0)} quarantined"
        )
    out.append(f"- benchmark sha256 {report.get('benchmark_sha256')} (unchanged from the parent)")
    if report.get("gate_report"):
        out.append(f"- gate evaluation: {report['gate_report']}")
    return "\n".join(out) + "\n"


def plot(report: dict[str, Any]) -> bytes:
    """Grouped bars: per task, v(N) and v(N+1) scores, one panel per set."""
    import base64

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sets = list(report["overall"]) or ["benchmark"]
    tasks = list(report["tasks"])
    fig, axes = plt.subplots(1, len(sets), figsize=(6 * len(sets), 4), squeeze=False)
    for ax, s in zip(axes[0], sets, strict=True):
        for k, (role, label) in enumerate((("current", "v(N)"), ("candidate", "v(N+1)"))):
            vals = [
                ((report["tasks"][t].get(s) or {}).get(role) or {}).get("score") or 0.0
                for t in tasks
            ]
            ax.bar([i + k * 0.4 for i in range(len(tasks))], vals, 0.4, label=label)
        ax.set_xticks([i + 0.2 for i in range(len(tasks))], tasks, rotation=20, fontsize=8)
        ax.set_ylim(0, 1.05)
        ax.set_title(SET_TITLES.get(s, s))
        ax.set_ylabel("score")
        ax.legend(fontsize=8)
    data = base64.b64decode(_png(fig))
    plt.close(fig)
    return data


def write_loop_report(store: Store, report: dict[str, Any]) -> str:
    """loops/<pipeline>/<dataset>/report.{md,png,json}, the JSON last; returns the Markdown URI."""
    prefix = loop_prefix(report["pipeline"], report["dataset"])
    store.put_bytes(prefix + "report.md", to_markdown(report).encode())
    store.put_bytes(prefix + "report.png", plot(report))
    store.put_bytes(prefix + "report.json", json.dumps(report, indent=2, default=str).encode())
    return store.uri_for(prefix + "report.md")
