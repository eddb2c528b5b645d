"""`mkd predict` and `mkd eval`: answer a JSONL file with any model; judge a candidate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from mkd.cli.console import console, fail
from mkd.config import ConfigError, PipelineConfig, load_config
from mkd.progress import item_progress
from mkd.records import RecordError
from mkd.registry import RegistryError

CONFIG = typer.Option(None, "--config", "-c", help="Pipeline YAML (default: embedded defaults).")


def register(app: typer.Typer) -> None:
    app.command("predict")(predict_cmd)
    app.command("eval")(eval_cmd)


def load(config: Path | None) -> PipelineConfig:
    try:
        return load_config(config)
    except (ConfigError, OSError) as exc:
        fail(str(exc), code=2)


def predict_cmd(
    model: str = typer.Option(
        ...,
        "--model",
        "-m",
        help="teacher | base:[URI] | NAME:VERSION | NAME@STAGE | run:ID | path",
    ),
    input_path: Path = typer.Option(
        ..., "--input", "-i", exists=True, dir_okay=False, help="JSONL: input, task, context."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="JSONL written with the answers."),
    config: Path | None = CONFIG,
    ray_address: str | None = typer.Option(
        None, "--ray-address", help="Predict on this Ray cluster (Ray Data) instead of locally."
    ),
) -> None:
    """Answer every query of a JSONL file with a model; each line gets output, latency, tokens.

    Without --config the default store (./mkd-store) and the reference teacher are used.
    Example: mkd predict --model finance-student@candidate --input queries.jsonl --out answers.jsonl
    """
    from mkd.evaluation.batch import predict_jsonl

    cfg = load(config)
    if ray_address:
        cfg.evaluation.ray_address = ray_address
    try:
        with item_progress(console) as progress:
            summary = predict_jsonl(cfg, model, input_path, out, config is not None, progress)
    except (RecordError, RegistryError, FileNotFoundError, ValueError) as exc:
        fail(str(exc))
    console.print(
        f"[green]✓[/] {summary['count']} answer(s) from {summary['model']} → {out}: "
        f"{summary['valid']:.1%} schema-valid, {summary['latency_ms_mean']:.1f} ms/query, "
        f"{summary['prompt_tokens_mean']:.0f} prompt + {summary['output_tokens_mean']:.1f} "
        "output tokens/query",
        highlight=False,
    )


def eval_cmd(
    config: Path = typer.Option(..., "--config", "-c", exists=True, help="Pipeline YAML."),
    candidate: str | None = typer.Option(
        None, "--candidate", help="Override evaluation.candidate (run id or registry ref)."
    ),
    max_items: int | None = typer.Option(
        None, "--max-items", min=1, help="Override evaluation.max_items_per_task."
    ),
) -> None:
    """Evaluate the candidate vs teacher and base; exit 1 and mark it rejected if a gate fails.

    Writes evals/<id>/report.{json,md,html} to the store; a passing candidate is registered
    as `candidate`, a failing one as `rejected`.
    Example: mkd eval -c configs/pipeline.yaml
    """
    from mkd.evaluation.job import run_evaluation

    cfg = load(config)
    if candidate:
        cfg.evaluation.candidate = candidate
    if max_items:
        cfg.evaluation.max_items_per_task = max_items
    try:
        with item_progress(console) as progress:
            outcome = run_evaluation(cfg, progress=progress)
    except (RegistryError, FileNotFoundError, ValueError) as exc:
        fail(str(exc))
    print_report(outcome.report)
    console.print(f"report: {outcome.report_uri}", highlight=False)
    if outcome.version:
        console.print(f"registry: {outcome.version.ref} is now [bold]{outcome.version.stage}[/]")
    if not outcome.passed:
        fail("gates failed: the candidate is rejected")


def print_report(report: dict[str, Any]) -> None:
    """The per-task table, the gates and the before/after table."""
    from mkd.evaluation.report import DETAIL_HEADER, ROLE_TITLES, detail_rows, score_table

    header, rows = score_table(report)
    console.print(_table(f"score per task ({report['dataset']} {report['split']})", header, rows))
    student = report["models"].get("student")
    if student:
        console.print(_table("student per task", DETAIL_HEADER, detail_rows(student)))
    if report.get("gates"):
        for g in report["gates"]["results"]:
            mark = "[green]pass[/]" if g["passed"] else "[bold red]FAIL[/]"
            op = "<=" if g["check"] == "violation_rate" else ">="
            console.print(
                f"  {mark} {g['task']}: {g['check']} {g['value']:.3f} {op} {g['threshold']:.3f}"
            )
    ba = report.get("before_after") or []
    if ba:
        head = [ROLE_TITLES.get(h, h) for h in ba[0]]
        console.print(_table("before / after", head, [list(r.values()) for r in ba]))


def _table(title: str, header: list[str], rows: list[list[str]]) -> Table:
    table = Table(title=title)
    for i, col in enumerate(header):
        table.add_column(col, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*row)
    return table
