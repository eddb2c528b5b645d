"""Stage: labeled prompts -> review overrides -> splits by family -> dataset version (manifest last).

    python -m ray_jobs.dataset -c configs/pipeline.yaml

Reads work/<dataset>/<version>/labeled.jsonl (written by `ray_jobs.label`) and any review
overrides, writes datasets/<dataset>/<version>/{train,val,test,quarantine}.jsonl and
manifest.json, which `ray_jobs.train` reads. Refuses a version that already has a manifest:
versions are immutable. `ray_jobs.build_data` runs augment, label and this stage in one job.
"""

from __future__ import annotations

from mkd.data.build import stage_finish

from ray_jobs._stage import main_exit, run_stage


def main(argv: list[str] | None = None) -> int:
    return run_stage("Split labeled prompts into a versioned dataset.", stage_finish, argv)


if __name__ == "__main__":
    main_exit(main())
