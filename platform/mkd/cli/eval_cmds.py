"""`mkd predict` and `mkd eval`: answer a JSONL file with any model; judge a candidate."""

from __future__ import annotations

from pathlib import Path

import typer

from mkd.cli.console import console, fail
from mkd.config import ConfigError, PipelineConfig, load_config
from mkd.progress import item_progress
from mkd.records import RecordError
from mkd.registry import RegistryError
from mkd.tables import print_report

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
    print_report(outcome.report, console)
    console.print(f"report: {outcome.report_uri}", highlight=False)
    if outcome.version:
        console.print(f"registry: {outcome.version.ref} is now [bold]{outcome.version.stage}[/]")
    if not outcome.passed:
        fail("gates failed: the candidate is rejected")
