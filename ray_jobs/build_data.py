"""The whole dataset build: augment -> label (Ray Data) -> review overrides -> splits -> manifest.

    python -m ray_jobs.build_data -c configs/pipeline.yaml

Writes datasets/<dataset>/<version>/{train,val,test,quarantine}.jsonl and manifest.json (last).
Refuses a version that already has a manifest: versions are immutable.
"""

from __future__ import annotations

from mkd.data.build import build_dataset

from ray_jobs._stage import main_exit, run_stage


def main(argv: list[str] | None = None) -> int:
    return run_stage("Build a versioned dataset.", build_dataset, argv)


if __name__ == "__main__":
    main_exit(main())
