"""pipeline: every stage in order, resuming finished ones: augment -> label -> review -> dataset
-> train -> evaluate -> export; with `loop.enabled: true` in the config, one turn of the
improvement loop instead (the loop stage, docs/loop.md), so the chart's pipeline RayJob and its
CronJob run it.

    python -m mkd.stages pipeline -c configs/pipeline.yaml [--until STAGE] [--fresh]

The same stages and runner as `mkd pipeline run` (mkd.pipeline.cluster): a stage whose inputs and
upstream outputs match its record in pipelines/<name>/state.json is reused, so a re-run (a retry,
the scheduled CronJob) redoes only what changed. Fails (exit 1) when a stage fails or the student
misses its gates (as the evaluate stage does); 2 on a bad config or an unknown --until.
"""

from __future__ import annotations

from mkd.config import PipelineConfig
from mkd.stages.outcome import Outcome, StageContext, StageOption

DESCRIPTION = "Run every pipeline stage in order, reusing finished ones."
OPTIONS = (
    StageOption("until", ("--until",), "Stop after this stage (e.g. dataset).", metavar="STAGE"),
    StageOption("fresh", ("--fresh",), "Rerun every stage.", kind="flag"),
)


def run(config: PipelineConfig, context: StageContext) -> Outcome:
    """Run (or reuse) the stages; `failed` when the evaluated student missed its gates."""
    from mkd.pipeline.cluster import gates_passed, run_pipeline
    from mkd.stages import evaluate, loop

    if config.loop.enabled:  # the improvement loop instead of the build (docs/loop.md)
        return loop.run(config, context)
    ctx = run_pipeline(
        config,
        context.store,
        context.console,
        fresh=bool(context.option("fresh")),
        until=context.option("until"),
    )
    reused = [name for name, (_, was_reused) in ctx.timings.items() if was_reused]
    passed = gates_passed(ctx)
    return Outcome(
        stage="pipeline",
        status="failed" if passed is False else "done",
        message=evaluate.GATES_FAILED if passed is False else "",
        summary={"stages": list(ctx.timings), "reused": reused, "passed": passed},
    )
