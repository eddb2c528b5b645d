"""evaluate: the trained student against the teacher and the base model; gates; registry.

    python -m mkd.stages evaluate -c configs/pipeline.yaml [--candidate REF] [--max-items N]

Runs `evaluation.candidate` (default: the newest run), the teacher and the base model on the
test split, writes evals/<id>/report.{json,md,html}, registers the candidate as `candidate`
(gates passed) or `rejected`, and fails (exit 1) when a gate fails. With
`evaluation.ray_address` the local models predict on Ray Data actors.
"""

from __future__ import annotations

from rich.console import Console

from mkd.config import PipelineConfig
from mkd.stages.outcome import Outcome, StageContext, StageOption

DESCRIPTION = "Evaluate the student vs teacher and base; apply the gates."
OPTIONS = (
    StageOption(
        "candidate",
        ("--candidate",),
        "Override evaluation.candidate (run id or registry ref).",
        metavar="REF",
    ),
    StageOption(
        "max_items", ("--max-items",), "Override evaluation.max_items_per_task.", kind="int"
    ),
)
GATES_FAILED = "gates failed: the candidate is rejected"


def run(config: PipelineConfig, context: StageContext) -> Outcome:
    """Evaluate and register the candidate; `failed` when it misses a gate."""
    from mkd.evaluation.job import run_evaluation
    from mkd.progress import item_progress

    config = with_overrides(config, context)
    with item_progress(context.console) as progress:
        result = run_evaluation(config, progress=progress)
    version = result.version
    return Outcome(
        stage="evaluate",
        status="done" if result.passed else "failed",
        message="" if result.passed else GATES_FAILED,
        summary={
            "passed": result.passed,
            "report_id": result.report["id"],
            "version": version.ref if version else None,
            "registry_stage": version.stage if version else None,
        },
        artifacts={"report": result.report_uri},
        details=result.report,
    )


def with_overrides(config: PipelineConfig, context: StageContext) -> PipelineConfig:
    """The config with --candidate and --max-items applied (a copy when either is given)."""
    candidate, max_items = context.option("candidate"), context.option("max_items")
    if candidate is None and max_items is None:
        return config
    if max_items is not None and max_items < 1:
        raise ValueError(f"--max-items must be >= 1 (got {max_items})")
    config = config.model_copy(deep=True)
    config.evaluation.candidate = candidate or config.evaluation.candidate
    config.evaluation.max_items_per_task = max_items or config.evaluation.max_items_per_task
    return config


def render(outcome: Outcome, console: Console) -> None:
    """The per-task report table, where it was written and the registry stage it gave."""
    from mkd.tables import print_report

    if outcome.details is not None:
        print_report(outcome.details, console)
    console.print(f"report: {outcome.artifacts['report']}", highlight=False)
    if outcome.summary.get("version"):
        console.print(
            f"registry: {outcome.summary['version']} is now "
            f"[bold]{outcome.summary['registry_stage']}[/]",
            highlight=False,
        )
