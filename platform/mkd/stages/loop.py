"""loop: one turn of the improvement loop (mkd.pipeline.loop, docs/loop.md): dataset v(N+1)
from v(N) and the feedback log, warm-started training, evaluation and comparison, shadow deploy.

    python -m mkd.stages loop -c configs/pipeline.yaml [--fresh]

The pipeline stage runs the same when the config sets `loop.enabled: true`. Exits 0 when the turn
finished, also when the candidate misses its gates (it is registered as rejected and deployed in
shadow all the same: the gate verdict is in the summary) and when there is nothing new to learn
from (loop.min_new_items: `nothing_to_do`); 1 when a stage fails, 2 on a bad config.
"""

from __future__ import annotations

from rich.console import Console

from mkd.config import PipelineConfig
from mkd.stages.outcome import Outcome, StageContext, StageOption

DESCRIPTION = "One turn of the improvement loop, resuming an unfinished one."
OPTIONS = (
    StageOption(
        "fresh",
        ("--fresh",),
        "Start a new turn even if the last one did not finish.",
        kind="flag",
    ),
)


def run(config: PipelineConfig, context: StageContext) -> Outcome:
    """Run (or resume) one turn."""
    from mkd.data.next_version import NothingNew
    from mkd.pipeline.loop import run_loop

    try:
        ctx = run_loop(config, context.store, context.console, fresh=bool(context.option("fresh")))
    except NothingNew as exc:
        return Outcome(stage="loop", status="nothing_to_do", message=str(exc))
    out = ctx.outputs
    evaluation, deploy = out.get("evaluate", {}), out.get("deploy", {})
    report = out.get("compare", {}).get("report_uri")
    return Outcome(
        stage="loop",
        summary={
            "dataset": out.get("dataset", {}).get("dataset"),
            "candidate": evaluation.get("version"),
            "passed": bool(evaluation.get("passed")),
            "deployed": bool(deploy.get("deployed")),
        },
        artifacts={"report": report} if report else {},
    )


def render(outcome: Outcome, console: Console) -> None:
    """Where the turn's results are (nothing for a turn with nothing to do)."""
    if outcome.status != "done":
        return
    s = outcome.summary
    console.print(
        f"loop turn done: dataset {s['dataset']}, candidate {s['candidate']} "
        f"(gates {'passed' if s['passed'] else 'failed: rejected'}), "
        f"report {outcome.artifacts.get('report')}, "
        + ("deployed in shadow" if s["deployed"] else "not deployed"),
        highlight=False,
    )
