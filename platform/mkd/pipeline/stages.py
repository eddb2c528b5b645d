"""The demo's stages: each runs the same stage module (mkd.stages) as `python -m mkd.stages`, the
CLI and the RayJobs, and returns the outputs later stages and the resume records need."""

from __future__ import annotations

import time
from typing import Any

from mkd.pipeline.runner import PipelineContext, Stage

# Where a stage runs is not what it computes: the demo starts its Ray cluster on a new port every
# time, and a fingerprint holding that address made every re-run redo every stage.
RUN_PLACE = {"ray_address"}


def _section_inputs(section: Any) -> dict[str, Any]:
    return section.model_dump(mode="json", exclude=RUN_PLACE)


def _data_inputs(ctx: PipelineContext) -> Any:
    return _section_inputs(ctx.cfg.data) | {"pack": ctx.cfg.pack, "tasks": ctx.cfg.tasks}


def _stage_context(ctx: PipelineContext, **options: Any) -> Any:
    from mkd.stages import StageContext

    return StageContext(ctx.store, ctx.console, options)


def augment(ctx: PipelineContext) -> dict[str, Any]:
    from mkd.stages import augment as stage

    return stage.run(ctx.cfg, _stage_context(ctx)).summary


def label(ctx: PipelineContext) -> dict[str, Any]:
    from mkd.stages import StageFailed
    from mkd.stages import label as stage

    outcome = stage.run(ctx.cfg, _stage_context(ctx))
    if outcome.status == "failed":
        raise StageFailed(outcome.message)
    return outcome.summary


def review(ctx: PipelineContext) -> dict[str, Any]:
    """Export the stratified review sample a human would check (CSV + JSONL)."""
    import json
    import tempfile
    from pathlib import Path

    from mkd.data.review import export_review
    from mkd.store_layout import work_prefix

    work = work_prefix(ctx.cfg.data.dataset, ctx.cfg.data.version)
    raw = ctx.store.get_bytes(work + "labeled.jsonl")
    records = [json.loads(line) for line in raw.splitlines() if line.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        paths = export_review(records, Path(tmp), ctx.cfg.data.review_sample_per_task, ctx.cfg.seed)
        keys = [f"{work}review/{p.name}" for p in paths]
        for key, path in zip(keys, paths, strict=True):
            ctx.store.put_file(key, path)
    ctx.console.print(
        f"review sample: {len(keys)} file(s) under {ctx.store.uri_for(work)}review/"
        " — corrections go back with `mkd review import`"
    )
    return {"files": keys}


def dataset(ctx: PipelineContext) -> dict[str, Any]:
    from mkd.stages import dataset as stage
    from mkd.store_layout import dataset_manifest

    key = dataset_manifest(ctx.cfg.data.dataset, ctx.cfg.data.version)
    if ctx.store.exists(key):  # versions are immutable: reuse the finished one
        manifest = ctx.store.get_json(key)
        return {
            "dataset": f"{ctx.cfg.data.dataset}/{ctx.cfg.data.version}",
            "counts": manifest["counts"],
        }
    return stage.run(ctx.cfg, _stage_context(ctx)).summary


def train(ctx: PipelineContext) -> dict[str, Any]:
    from mkd.stages import train as stage
    from mkd.store_layout import latest_unfinished_run

    resume = latest_unfinished_run(ctx.store)
    if resume:
        ctx.console.print(f"resuming interrupted run [bold]{resume}[/] from its last checkpoint")
    cfg, budget = _with_deadline_budget(ctx)
    address = ctx.services.get("ray_address")
    outcome = stage.run(cfg, _stage_context(ctx, resume=resume, address=address))
    return {"run_id": outcome.summary["run_id"], "budget": budget}


def _with_deadline_budget(ctx: PipelineContext) -> tuple[Any, dict[str, Any] | None]:
    """The config to train with: under a demo deadline, training.budget_minutes is what the
    deadline leaves after the later stages' time, measured on this machine (budget.py)."""
    from mkd.models.stored import load_tokenizer
    from mkd.pipeline.budget import (
        answer_tokens,
        decoded_schemas,
        measure_speed,
        split_records,
        training_budget,
    )

    cfg = ctx.cfg
    if cfg.demo.deadline_minutes is None or cfg.training.budget_minutes is not None:
        return cfg, None
    records = split_records(ctx.store, ctx.output("dataset", "dataset"))
    tokens = answer_tokens(load_tokenizer(cfg.training.base_model), records, decoded_schemas(cfg))
    speed = measure_speed(cfg.training.base_model, cfg.evaluation.batch_size, cfg.evaluation.dtype)
    budget = training_budget(cfg, time.monotonic() - ctx.started, speed, tokens)
    ctx.console.print(
        f"training budget [bold]{budget['budget_minutes']:.1f} min[/]: deadline "
        f"{budget['deadline_minutes']} min, {budget['elapsed_s'] / 60:.1f} min elapsed, later "
        f"stages ~{sum(budget['later_stages_s'].values()) / 60:.1f} min on this machine "
        f"({', '.join(f'{k} {v / 60:.1f}' for k, v in budget['later_stages_s'].items())}), "
        f"{budget['fixed_overhead_s'] / 60:.1f} min fixed"
    )
    if budget["deadline_missed"]:
        ctx.console.print(
            f"[yellow]this machine is too slow for the {budget['deadline_minutes']}-minute "
            f"deadline: the stages after training alone need most of it, so training gets only "
            f"its {cfg.demo.min_train_minutes:g}-minute floor and the student will be weak. "
            "A machine with AMX/AVX-512-BF16, a GPU, or --profile full trains it properly.[/]"
        )
    cfg = cfg.model_copy(deep=True)
    cfg.training.budget_minutes = budget["budget_minutes"]
    return cfg, budget


def evaluate(ctx: PipelineContext) -> dict[str, Any]:
    """The run this pipeline trained; failed gates are recorded, not raised: the demo goes on to
    export and serve the student in shadow."""
    from mkd.stages import evaluate as stage

    candidate = f"run:{ctx.output('train', 'run_id')}"
    outcome = stage.run(ctx.cfg, _stage_context(ctx, candidate=candidate))
    report_uri, passed = outcome.artifacts["report"], outcome.summary["passed"]
    ctx.console.print(f"evaluation report: {report_uri} (gates passed: {passed})")
    return {
        "report_uri": report_uri,
        "report_id": outcome.summary["report_id"],
        "passed": passed,
        "version": outcome.summary["version"],
    }


def export(ctx: PipelineContext) -> dict[str, Any]:
    from mkd.stages import export as stage

    # the version this run evaluated
    outcome = stage.run(ctx.cfg, _stage_context(ctx, model=ctx.output("evaluate", "version")))
    for name, result in outcome.summary["variants"].items():
        ctx.console.print(f"  {name}: {result.get('status')} {result.get('reason', '')}")
    return {
        "source": outcome.summary["source"],
        "variants": outcome.summary["variants"],
        "versions": outcome.summary["versions"],
        "report_uri": outcome.artifacts["report"],
    }


def _training_inputs(ctx: PipelineContext) -> Any:
    from mkd.tasks.prompts import STUDENT_PROMPT_VERSION

    return _section_inputs(ctx.cfg.training) | {"prompt_version": STUDENT_PROMPT_VERSION}


def build_stages() -> list[Stage]:
    """Curated prompts to a registered, exported student (serving follows in demo.py)."""
    return [
        Stage("augment", "Curated prompts → synthetic variations", augment, _data_inputs),
        Stage("label", "Teacher labels over HTTP (cached, guarded)", label, _data_inputs),
        Stage("review", "Review sample for humans", review),
        Stage("dataset", "Splits by family + manifest", dataset),
        Stage(
            "train",
            "LoRA training of the student on Ray Train",
            train,
            _training_inputs,
        ),
        Stage(
            "evaluate",
            "Student vs teacher vs base, gates",
            evaluate,
            lambda ctx: _section_inputs(ctx.cfg.evaluation),
        ),
        Stage(
            "export",
            "Master, nf4 and GGUF variants, registry",
            export,
            lambda ctx: _section_inputs(ctx.cfg.export),
        ),
    ]
