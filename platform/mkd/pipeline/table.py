"""The demo's closing table, after the article's: teacher vs student vs base, and the canary."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from mkd.pipeline.runner import PipelineContext


def _size(n: Any) -> str:
    from mkd.evaluation.report import human_bytes

    return human_bytes(n) if isinstance(n, int | float) else "-"


def summary_rows(ctx: PipelineContext) -> tuple[list[str], list[dict[str, str]]]:
    """Rows of the final table: the evaluation's before/after, export sizes, per-task scores."""
    report = ctx.store.get_json(f"evals/{ctx.output('evaluate', 'report_id')}/report.json")
    rows = list(report["before_after"])
    cols = [c for c in rows[0] if c not in ("metric", "change")] if rows else []
    for task, by_role in _task_scores(report).items():
        rows.insert(0, {"metric": f"{task} score", **by_role, "change": ""})
    variants = ctx.outputs.get("export", {}).get("variants", {})
    if variants:
        rows.append({"metric": "exported variants", **_variants_cell(variants)})
    serve = ctx.outputs.get("serve", {})
    if serve:
        where = f"canary at {serve['weight']:.0%} ({serve['version']})"
        rows.append({"metric": "rollout", "student": where, "change": _rollout_note(serve)})
    return cols, rows


def _variants_cell(variants: dict[str, dict]) -> dict[str, str]:
    """Accepted variants with their sizes; the refused and skipped ones named in `change`, so a
    variant that export turned down is never shown as exported."""
    accepted = ", ".join(
        f"{name} {_size(v.get('size_bytes'))}"
        for name, v in variants.items()
        if v.get("status", "accepted") == "accepted"
    )
    others = "; ".join(
        f"{name} {v['status']}" + (f" (-{v['drop_vs_master']:.3f} vs master)"
                                   if v.get("drop_vs_master") is not None else "")
        for name, v in variants.items()
        if v.get("status", "accepted") != "accepted"
    )  # fmt: skip
    return {"student": accepted or "none", "change": others}


def _task_scores(report: dict) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for role, model in report["models"].items():
        for task, metrics in model.get("tasks", {}).items():
            out.setdefault(task, {})[role] = f"{metrics['score']:.3f}"
    return out


def _rollout_note(serve: dict) -> str:
    canary = serve["canary"]
    routes = " / ".join(f"{route} {n}" for route, n in canary["routes"].items())
    return f"{canary['requests']} replayed, {canary['non_2xx']} non-2xx, routes {routes}"


def rich_table(cols: list[str], rows: list[dict[str, str]]) -> Table:
    table = Table(title="MKD: teacher vs distilled student", show_lines=False)
    table.add_column("metric", style="bold")
    for col in cols:
        table.add_column(col, justify="right")
    table.add_column("change")
    for row in rows:
        table.add_row(row["metric"], *[row.get(c, "-") for c in cols], row.get("change", ""))
    return table


def markdown_table(cols: list[str], rows: list[dict[str, str]]) -> str:
    head = ["metric", *cols, "change"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(r.get(c, "-")) for c in head) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def timings_markdown(ctx: PipelineContext) -> str:
    lines = ["| stage | seconds | |", "|---|---:|---|"]
    for name, (seconds, reused) in ctx.timings.items():
        lines.append(f"| {name} | {seconds:.0f} | {'reused' if reused else ''} |")
    return "\n".join(lines) + "\n"
