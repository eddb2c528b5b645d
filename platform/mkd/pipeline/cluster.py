"""The pipeline inside a Ray job: the local runner's stages and resume, with no services started.

`mkd demo` / `mkd pipeline run` start Ray and a reference teacher for themselves. In a RayJob (or
`mkd submit pipeline`) the driver already runs inside a Ray cluster ($RAY_ADDRESS) and the config
names the real teacher, so only the stages run: the same `build_stages()` through the same
`run_stages`, which reuses every stage whose fingerprint matches pipelines/<name>/state.json in
the store. A run killed anywhere (a preempted node, a scheduled re-run) resumes where it stopped.
Serving is not a stage here: on Kubernetes the RayService is rolled out by the chart's values.
"""

from __future__ import annotations

from rich.console import Console

from mkd.config import PipelineConfig
from mkd.pipeline.runner import PipelineContext, Stage, run_stages
from mkd.pipeline.stages import build_stages
from mkd.storage import Store


def stage_names() -> list[str]:
    """The stages in the order they run (augment ... export)."""
    return [stage.name for stage in build_stages()]


def cluster_stages(until: str | None = None) -> list[Stage]:
    """Every stage, or those up to and including `until`.

    A prefix keeps the fingerprints of a full run (each hashes only earlier stages' outputs), so
    `--until dataset` today and a full run tomorrow reuse the same records.

    Raises:
        ValueError: `until` names no stage.
    """
    stages = build_stages()
    if until is None:
        return stages
    names = [stage.name for stage in stages]
    if until not in names:
        raise ValueError(f"unknown stage {until!r} for --until; stages: {', '.join(names)}")
    return stages[: names.index(until) + 1]


def run_pipeline(
    cfg: PipelineConfig,
    store: Store,
    console: Console,
    *,
    fresh: bool = False,
    until: str | None = None,
) -> PipelineContext:
    """Run (or reuse) the stages in order; returns the context with every stage's outputs."""
    ctx = PipelineContext(cfg, store, console)
    stages = cluster_stages(until)
    console.print(
        f"[bold]MKD pipeline[/] {cfg.name}: {', '.join(s.name for s in stages)} "
        f"(store {cfg.store.uri}{', fresh' if fresh else ''})"
    )
    return run_stages(stages, ctx, fresh=fresh)


def gates_passed(ctx: PipelineContext) -> bool | None:
    """Whether the evaluated student passed its gates (None: evaluation was not in this run)."""
    evaluation = ctx.outputs.get("evaluate")
    return None if evaluation is None else bool(evaluation.get("passed"))
