"""Every stage in order, resuming finished ones: augment -> label -> review -> dataset -> train ->
evaluate -> export; with `loop.enabled: true` in the config, one turn of the improvement loop
instead (ray_jobs.loop, docs/loop.md), so the chart's pipeline RayJob and its CronJob run it.

    python -m ray_jobs.pipeline -c configs/pipeline.yaml [--until STAGE] [--fresh]

The same stages and runner as `mkd pipeline run` (mkd.pipeline.cluster): a stage whose inputs and
upstream outputs match its record in pipelines/<name>/state.json is reused, so a re-run (a retry,
the scheduled CronJob) redoes only what changed. Exits 1 when a stage fails or the student misses
its gates (as `ray_jobs.evaluate` does), 2 on a bad config.
"""

from __future__ import annotations

import argparse

from mkd.config import PipelineConfig
from mkd.storage import Store
from rich.console import Console

from ray_jobs._stage import StageFn, main_exit, run_parsed, stage_parser
from ray_jobs.evaluate import GatesFailed


def stage(args: argparse.Namespace) -> StageFn:
    """The pipeline as a stage function for run_parsed (its options bound)."""

    def run(cfg: PipelineConfig, store: Store, console: Console) -> None:
        from mkd.pipeline.cluster import gates_passed, run_pipeline

        if cfg.loop.enabled:  # the improvement loop instead of the build (docs/loop.md)
            from ray_jobs.loop import run_loop_job

            run_loop_job(cfg, store, console, fresh=args.fresh)
            return

        ctx = run_pipeline(cfg, store, console, fresh=args.fresh, until=args.until)
        reused = [name for name, (_, was_reused) in ctx.timings.items() if was_reused]
        console.print(f"pipeline finished; reused: {', '.join(reused) or 'none'}")
        if gates_passed(ctx) is False:
            raise GatesFailed("gates failed: the candidate is rejected")

    return run


def main(argv: list[str] | None = None) -> int:
    parser = stage_parser("Run every pipeline stage in order, reusing finished ones.")
    parser.add_argument("--until", metavar="STAGE", help="stop after this stage (e.g. dataset)")
    parser.add_argument("--fresh", action="store_true", help="rerun every stage")
    args = parser.parse_args(argv)
    return run_parsed(args, stage(args))


if __name__ == "__main__":
    main_exit(main())
