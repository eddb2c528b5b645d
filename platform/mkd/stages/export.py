"""export: merge the adapter into a full-precision master; nf4 and GGUF variants, each evaluated.

    python -m mkd.stages export -c configs/pipeline.yaml [--model REF]

Exports `export.model` (default: the newest `candidate` adapter of `<name>-student`), builds
`export.variants`, evaluates each on the test split with the evaluation code, refuses any whose
score drops more than `export.tolerance` below the master, and registers the accepted ones.
"""

from __future__ import annotations

from rich.console import Console

from mkd.config import PipelineConfig
from mkd.stages.outcome import Outcome, StageContext, StageOption

DESCRIPTION = "Export master, nf4 and GGUF variants; evaluate and register."
OPTIONS = (
    StageOption("model", ("--model",), "Override export.model (a registry ref).", metavar="REF"),
)


def run(config: PipelineConfig, context: StageContext) -> Outcome:
    """Export, evaluate and register the variants; each step is logged on the context's console."""
    from mkd.export.job import run_export

    if context.option("model"):
        config = config.model_copy(deep=True)
        config.export.model = context.option("model")
    result = run_export(config, progress=context)  # anything with a console gets step lines
    return Outcome(
        stage="export",
        summary={
            "source": result.source,
            "tolerance": config.export.tolerance,
            "variants": result.variants,
            "versions": [v.ref for v in result.versions],
            "registered": [
                f"{v.ref} ({v.manifest['variant']}, {v.stage})" for v in result.versions
            ],
        },
        artifacts={"report": result.report_uri},
    )


def render(outcome: Outcome, console: Console) -> None:
    """The variants table, what was registered and where the report is."""
    from mkd.export.job import export_markdown

    summary = outcome.summary
    report = {k: summary[k] for k in ("source", "tolerance", "variants")}
    console.print(export_markdown(report), highlight=False, markup=False)
    for line in summary["registered"]:
        console.print(f"registered {line}", highlight=False)
    console.print(f"report: {outcome.artifacts['report']}", highlight=False)
