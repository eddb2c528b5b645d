"""The demo's closing summary: printed, and written as Markdown and HTML beside the store."""

from __future__ import annotations

import base64
import html
from pathlib import Path

from mkd.pipeline.runner import PipelineContext
from mkd.pipeline.table import (
    markdown_table,
    rich_table,
    summary_rows,
    timings_markdown,
    timings_rows,
)
from mkd.store_layout import eval_report, run_key


def write_summary(ctx: PipelineContext, workdir: Path) -> tuple[Path, Path]:
    """Print the before/after table; write summary.md and summary.html (with the eval plots)."""
    cols, rows = summary_rows(ctx)
    ctx.console.print(rich_table(cols, rows))
    md = "# MKD demo: teacher vs distilled student\n\n" + markdown_table(cols, rows)
    loop = loop_rows(ctx)
    if loop:
        ctx.console.print(rich_table(LOOP_COLS, loop, "MKD loop: v1 vs v2"))
        md += "\n## Loop: v1 vs v2\n\n" + markdown_table(LOOP_COLS, loop)
        md += f"\nLoop report: `{ctx.output('loop', 'report_uri')}`\n"
    md += "\n## Time per stage\n\n" + timings_markdown(ctx)
    report_id = ctx.output("evaluate", "report_id")
    md += f"\nEvaluation report with plots: `{ctx.store.uri_for(eval_report(report_id, 'html'))}`\n"
    workdir.mkdir(parents=True, exist_ok=True)
    md_path = workdir / "summary.md"
    md_path.write_text(md, encoding="utf-8")
    eval_html = ctx.store.get_bytes(eval_report(report_id, "html")).decode("utf-8")
    html_path = workdir / "summary.html"
    page = _html(cols, rows, timings_rows(ctx), eval_html, _curve_png(ctx), loop)
    html_path.write_text(page, encoding="utf-8")
    ctx.console.print(f"summary: {md_path} and {html_path}")
    return md_path, html_path


LOOP_COLS = ["v1 (served)", "v2 (candidate)"]


def loop_rows(ctx: PipelineContext) -> list[dict[str, str]]:
    """`--loop`'s comparison: mean agreement with the teacher per set, v1 against v2."""
    out = ctx.outputs.get("loop") or {}
    rows = []
    for name, cells in (out.get("overall") or {}).items():
        pair = [cells.get("current"), cells.get("candidate")]
        rows.append(
            {"metric": f"agreement, {SET_NAMES.get(name, name)}",
             **{c: "-" if v is None else f"{v:.3f}" for c, v in zip(LOOP_COLS, pair, strict=True)},
             "change": "-" if cells.get("delta") is None else f"{cells['delta']:+.3f}"}
        )  # fmt: skip
    if out:
        rows.append({"metric": "v2", LOOP_COLS[0]: "", "change": "",
                     LOOP_COLS[1]: f"{out.get('candidate')} on {out.get('dataset')} "
                     f"({'gates passed' if out.get('passed') else 'gates failed'}; "
                     f"{'in shadow' if out.get('deployed') else 'not deployed'})"})  # fmt: skip
    return rows


SET_NAMES = {"benchmark": "fixed benchmark", "new": "new items from the traffic"}


def _curve_png(ctx: PipelineContext) -> bytes | None:
    """The training run's validation-agreement curve (runs/<id>/val_agreement.png), if any."""
    run_id = ctx.outputs.get("train", {}).get("run_id")
    key = run_key(run_id, "val_agreement.png")
    return ctx.store.get_bytes(key) if run_id and ctx.store.exists(key) else None


def _html(
    cols: list[str],
    rows: list[dict[str, str]],
    timings: list[list[str]],
    eval_html: str,
    curve_png: bytes | None = None,
    loop: list[dict[str, str]] | None = None,
) -> str:
    """The summary's tables as HTML tables, above the full evaluation report (plots included,
    its stylesheet reused)."""
    from mkd.evaluation.report import html_table

    head_end = eval_html.find("<body>")
    head = eval_html[:head_end] if head_end >= 0 else "<!doctype html><html><head></head>"
    eval_body = eval_html[head_end + 6 :] if head_end >= 0 else eval_html
    header = ["metric", *cols, "change"]
    table = html_table(header, [[str(r.get(c, "-")) for c in header] for r in rows])
    if loop:
        loop_header = ["metric", *LOOP_COLS, "change"]
        loop_cells = [[str(r.get(c, "-")) for c in loop_header] for r in loop]
        table += f"<h2>Loop: v1 vs v2</h2>{html_table(loop_header, loop_cells)}"
    return (
        head.replace("<title>", "<title>MKD demo: ", 1) + "<body>"
        f"<h1>{html.escape('MKD demo: teacher vs distilled student')}</h1>{table}"
        f"{_curve_img(curve_png)}<h2>Time per stage</h2>{html_table(['stage', 'seconds', ''], timings)}<hr>"
        f"{eval_body}"
    )


def _curve_img(png: bytes | None) -> str:
    if not png:
        return ""
    data = base64.b64encode(png).decode("ascii")
    return (
        "<h2>Validation agreement against training minutes</h2>"
        f"<img id='plot-val-agreement' alt='validation agreement' src='data:image/png;base64,{data}'>"
    )
