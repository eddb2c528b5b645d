"""The demo's closing summary: printed, and written as Markdown and HTML beside the store."""

from __future__ import annotations

import html
from pathlib import Path

from mkd.pipeline.runner import PipelineContext
from mkd.pipeline.table import markdown_table, rich_table, summary_rows, timings_markdown


def write_summary(ctx: PipelineContext, workdir: Path) -> tuple[Path, Path]:
    """Print the before/after table; write summary.md and summary.html (with the eval plots)."""
    cols, rows = summary_rows(ctx)
    ctx.console.print(rich_table(cols, rows))
    md = "# MKD demo: teacher vs distilled student\n\n" + markdown_table(cols, rows)
    md += "\n## Time per stage\n\n" + timings_markdown(ctx)
    report_id = ctx.output("evaluate", "report_id")
    md += (
        f"\nEvaluation report with plots: `{ctx.store.uri_for(f'evals/{report_id}/report.html')}`\n"
    )
    workdir.mkdir(parents=True, exist_ok=True)
    md_path = workdir / "summary.md"
    md_path.write_text(md, encoding="utf-8")
    eval_html = ctx.store.get_bytes(f"evals/{report_id}/report.html").decode("utf-8")
    html_path = workdir / "summary.html"
    html_path.write_text(_html(md, eval_html), encoding="utf-8")
    ctx.console.print(f"summary: {md_path} and {html_path}")
    return md_path, html_path


def _html(md: str, eval_html: str) -> str:
    """The summary as preformatted text above the full evaluation report (plots included)."""
    body_start = eval_html.find("<body>")
    eval_body = eval_html[body_start + 6 :] if body_start >= 0 else eval_html
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>MKD demo</title></head><body>"
        f"<pre style='font-size:13px'>{html.escape(md)}</pre><hr>{eval_body}"
    )
