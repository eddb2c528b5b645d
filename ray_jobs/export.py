"""Stage: merge the adapter into a full-precision master; nf4 and GGUF variants, each evaluated.

    python -m ray_jobs.export -c configs/pipeline.yaml

Exports `export.model` (default: the newest `candidate` adapter of `<name>-student`), builds
`export.variants`, evaluates each on the test split with the evaluation code, refuses any whose
score drops more than `export.tolerance` below the master, and registers the accepted ones.
"""

from __future__ import annotations

from mkd.config import PipelineConfig
from mkd.storage import Store
from rich.console import Console

from ray_jobs._stage import main_exit, run_stage


def stage(cfg: PipelineConfig, store: Store, console: Console) -> None:
    from mkd.export.job import export_markdown, run_export

    outcome = run_export(cfg)
    report = {
        "source": outcome.source,
        "tolerance": cfg.export.tolerance,
        "variants": outcome.variants,
    }
    console.print(export_markdown(report), markup=False)
    for mv in outcome.versions:
        console.print(f"registered {mv.ref} ({mv.manifest['variant']}, {mv.stage})")


def main(argv: list[str] | None = None) -> int:
    return run_stage("Export master, nf4 and GGUF variants; evaluate and register.", stage, argv)


if __name__ == "__main__":
    main_exit(main())
