"""One turn of the improvement loop (mkd.pipeline.loop, docs/loop.md): dataset v(N+1) from v(N)
and the feedback log, warm-started training, evaluation and comparison, shadow deploy.

    python -m ray_jobs.loop -c configs/pipeline.yaml [--fresh]

The pipeline job (ray_jobs.pipeline) runs the same when the config sets `loop.enabled: true`.
Exits 0 when there is nothing new to learn from (loop.min_new_items) and when the candidate misses
its gates (it is registered as rejected, deployed in shadow all the same); 1 when a stage fails,
2 on a bad config.
"""

from __future__ import annotations

import argparse

from mkd.config import PipelineConfig
from mkd.storage import Store
from rich.console import Console

from ray_jobs._stage import StageFn, main_exit, run_parsed, stage_parser


def run_loop_job(cfg: PipelineConfig, store: Store, console: Console, fresh: bool) -> None:
    from mkd.data.next_version import NothingNew
    from mkd.pipeline.loop import run_loop

    try:
        ctx = run_loop(cfg, store, console, fresh=fresh)
    except NothingNew as exc:
        console.print(f"nothing to do: {exc}")
        return
    evaluation = ctx.outputs.get("evaluate", {})
    console.print(
        f"loop turn done: candidate {evaluation.get('version')} "
        f"({'gates passed' if evaluation.get('passed') else 'gates failed: rejected'}), "
        f"report {ctx.outputs.get('compare', {}).get('report_uri')}"
    )


def stage(args: argparse.Namespace) -> StageFn:
    def run(cfg: PipelineConfig, store: Store, console: Console) -> None:
        run_loop_job(cfg, store, console, fresh=args.fresh)

    return run


def main(argv: list[str] | None = None) -> int:
    parser = stage_parser("One turn of the improvement loop, resuming an unfinished one.")
    parser.add_argument("--fresh", action="store_true", help="start a new turn")
    args = parser.parse_args(argv)
    return run_parsed(args, stage(args))


if __name__ == "__main__":
    main_exit(main())
