"""predict: answer a JSONL file of queries with any model ref (Ray Data with a cluster).

    python -m mkd.stages predict -c configs/pipeline.yaml --model finance-student@production \
        --input queries.jsonl --out answers.jsonl

Without -c the embedded defaults are used (the store ./mkd-store, the reference teacher). Every
line of --out gets the query's output, latency and tokens; a bad input line (named with its
number) exits 2 and writes nothing.
"""

from __future__ import annotations

from rich.console import Console

from mkd.config import PipelineConfig
from mkd.stages.outcome import Outcome, StageContext, StageOption

DESCRIPTION = "Answer a JSONL file of queries with a model."
CONFIG_REQUIRED = False
OPTIONS = (
    StageOption(
        "model",
        ("--model", "-m"),
        "teacher | base:[URI] | NAME:VERSION | NAME@STAGE | run:ID | path",
        required=True,
    ),
    StageOption(
        "input", ("--input", "-i"), "JSONL: input, task, context.", required=True, metavar="PATH"
    ),
    StageOption(
        "out", ("--out", "-o"), "JSONL written with the answers.", required=True, metavar="PATH"
    ),
    StageOption(
        "ray_address",
        ("--ray-address",),
        "Predict on this Ray cluster (Ray Data) instead of locally.",
    ),
)


def run(config: PipelineConfig, context: StageContext) -> Outcome:
    """Answer every query; the summary has the count, schema-valid share, latency and tokens."""
    from mkd.evaluation.batch import predict_jsonl
    from mkd.progress import item_progress

    if context.option("ray_address"):
        config = config.model_copy(deep=True)
        config.evaluation.ray_address = context.option("ray_address")
    model, source, out = (context.option(k) for k in ("model", "input", "out"))
    with item_progress(context.console) as progress:
        summary = predict_jsonl(config, model, source, out, context.config_given, progress)
    return Outcome(stage="predict", summary=summary, artifacts={"answers": str(out)})


def render(outcome: Outcome, console: Console) -> None:
    s = outcome.summary
    console.print(
        f"[green]✓[/] {s['count']} answer(s) from {s['model']} → {outcome.artifacts['answers']}: "
        f"{s['valid']:.1%} schema-valid, {s['latency_ms_mean']:.1f} ms/query, "
        f"{s['prompt_tokens_mean']:.0f} prompt + {s['output_tokens_mean']:.1f} "
        "output tokens/query",
        highlight=False,
    )
