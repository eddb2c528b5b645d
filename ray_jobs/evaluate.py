"""Stage: evaluate the trained student against the teacher and the base model; gates; registry.

    python -m ray_jobs.evaluate -c configs/pipeline.yaml

Runs `evaluation.candidate` (default: the newest run), the teacher and the base model on the
test split, writes evals/<id>/report.{json,md,html}, registers the candidate as `candidate`
(gates passed) or `rejected`, and exits 1 when a gate fails. With `evaluation.ray_address`
the local models predict on Ray Data actors.
"""

from __future__ import annotations

from mkd.config import PipelineConfig
from mkd.storage import Store
from rich.console import Console

from ray_jobs._stage import main_exit, run_stage


class GatesFailed(RuntimeError):
    """The candidate missed a gate (the stage exits 1)."""


def stage(cfg: PipelineConfig, store: Store, console: Console) -> None:
    from mkd.evaluation.job import run_evaluation
    from mkd.tables import print_report

    outcome = run_evaluation(cfg)
    print_report(outcome.report)
    console.print(f"report: {outcome.report_uri}")
    if outcome.version:
        console.print(f"registry: {outcome.version.ref} is {outcome.version.stage}")
    if not outcome.passed:
        raise GatesFailed("gates failed: the candidate is rejected")


def main(argv: list[str] | None = None) -> int:
    return run_stage("Evaluate the student vs teacher and base; apply the gates.", stage, argv)


if __name__ == "__main__":
    main_exit(main())
