"""Stage 2: label every (prompt, task) with the teacher on Ray Data.

    python -m ray_jobs.label -c configs/pipeline.yaml

Reads work/<dataset>/<version>/prompts.jsonl, labels with `data.actors` actors of
`data.actor_num_cpus` CPUs each (map_batches), skips what the label cache already holds, and
writes labeled.jsonl, quarantine.jsonl and label_report.json (last). Connects to
`data.ray_address`, or starts Ray locally on loopback. Safe to kill and re-run: labels are
cached as they arrive, so a re-run asks the teacher only for the rest.
"""

from __future__ import annotations

from mkd.data.build import stage_label

from ray_jobs._stage import main_exit, run_stage


def main(argv: list[str] | None = None) -> int:
    return run_stage("Label prompts with the teacher on Ray Data.", stage_label, argv)


if __name__ == "__main__":
    main_exit(main())
