"""The demo's closing table, after the article's: teacher vs student vs base, and the canary."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from mkd.pipeline.runner import PipelineContext
from mkd.store_layout import eval_report, run_manifest


def _size(n: Any) -> str:
    from mkd.evaluation.report import human_bytes

    return human_bytes(n) if isinstance(n, int | float) else "-"


def summary_rows(ctx: PipelineContext) -> tuple[list[str], list[dict[str, str]]]:
    """Rows of the final table: the evaluation's before/after, export sizes, per-task scores."""
    report = ctx.store.get_json(eval_report(ctx.output("evaluate", "report_id")))
    rows = list(report["before_after"])
    cols = [c for c in rows[0] if c not in ("metric", "change")] if rows else []
    rows.append(_training_row(ctx))
    rows.append(_gates_row(report))
    variants = ctx.outputs.get("export", {}).get("variants", {})
    if variants:
        rows.append({"metric": "exported variants", **_variants_cell(variants)})
    serve = ctx.outputs.get("serve", {})
    if serve:
        rows.append(rollout_row(serve))
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


def _training_row(ctx: PipelineContext) -> dict[str, str]:
    """How much training the student had: steps, epochs, minutes, precision and ISA."""
    run_id = ctx.outputs.get("train", {}).get("run_id")
    key = run_manifest(run_id)
    if not run_id or not ctx.store.exists(key):
        return {"metric": "training", "student": "-"}
    m = ctx.store.get_json(key)
    p = m.get("precision") or {}
    budget = m.get("budget_minutes")
    return {
        "metric": "training",
        "student": f"{m['steps']} steps, {m.get('epochs', 0):.2f} epochs, "
        f"{m['train_seconds'] / 60:.1f} CPU-min, {p.get('dtype', '?')} base",
        "change": (f"budget {budget:.1f} min; " if budget else "")
        + f"adapter of the val point at step {m.get('best_step')}; {p.get('isa', '')}",
    }


def _gates_row(report: dict) -> dict[str, str]:
    gates = report.get("gates") or {}
    if not gates:
        return {"metric": "gates", "student": "-"}
    failed = gates.get("failed") or [
        f"{g['task']}/{g['check']}" for g in gates.get("results", []) if not g["passed"]
    ]
    verdict = "passed" if gates.get("passed") else f"FAILED ({len(failed)} checks)"
    return {"metric": "gates", "student": verdict, "change": ", ".join(failed[:6])
            + (" ..." if len(failed) > 6 else "")}  # fmt: skip


def rollout_row(serve: dict) -> dict[str, str]:
    """Where the student ended up (shadow or canary at a weight) and why (gates, or forced)."""
    canary = serve.get("canary")
    replayed = canary or serve["shadow"]
    routes = " / ".join(f"{route} {n}" for route, n in replayed["routes"].items())
    traffic = f"{replayed['requests']} replayed, {replayed['non_2xx']} non-2xx, routes {routes}"
    where = f"canary at {serve['weight']:.0%}" if canary else "shadow only"
    decision = serve.get("decision", "")
    return {"metric": "rollout", "student": f"{where} ({serve['version']})",
            "change": f"{decision}; {traffic}" if decision else traffic}  # fmt: skip


def rich_table(
    cols: list[str], rows: list[dict[str, str]], title: str = "MKD: teacher vs distilled student"
) -> Table:
    table = Table(title=title, show_lines=False)
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


def timings_rows(ctx: PipelineContext) -> list[list[str]]:
    return [
        [name, f"{seconds:.0f}", "reused" if reused else ""]
        for name, (seconds, reused) in ctx.timings.items()
    ]


def timings_markdown(ctx: PipelineContext) -> str:
    lines = ["| stage | seconds | |", "|---|---:|---|"]
    lines += ["| " + " | ".join(r) + " |" for r in timings_rows(ctx)]
    return "\n".join(lines) + "\n"
