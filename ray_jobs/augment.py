"""Stage 1: curated prompts -> synthetic variations (families kept) in the store.

    python -m ray_jobs.augment -c configs/pipeline.yaml

Reads data.curated and data.gazetteers, writes work/<dataset>/<version>/prompts.jsonl. A few
thousand prompts take seconds in one process, so this stage does not fan out on Ray.
"""

from __future__ import annotations

from mkd.data.build import stage_augment

from ray_jobs._stage import main_exit, run_stage


def main(argv: list[str] | None = None) -> int:
    return run_stage("Augment curated prompts.", stage_augment, argv)


if __name__ == "__main__":
    main_exit(main())
