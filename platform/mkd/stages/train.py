"""train: the student with LoRA on Ray Train (a plain PyTorch loop in each worker).

    python -m mkd.stages train -c configs/pipeline.yaml [--resume RUN_ID] [--address ADDR]

Reads the dataset named by training.dataset (a version in the store, `latest`, or a local
directory), checkpoints every training.checkpoint_every steps to runs/<run_id>/ray/ in the
store (S3 or local) and writes the adapter, tokenizer, config, metrics.jsonl, loss.png and
manifest.json (last) to runs/<run_id>/. A killed worker resumes from the last checkpoint
(training.max_failures); a killed driver resumes with --resume RUN_ID. A bad input (dataset,
base model, --resume) exits 2 before any work; failed training (Ray Train gave up) exits 1.
"""

from __future__ import annotations

from mkd.config import PipelineConfig
from mkd.stages.outcome import Outcome, StageContext, StageOption

DESCRIPTION = "Train the student on Ray Train."
OPTIONS = (
    StageOption("resume", ("--resume",), "Continue RUN_ID from its checkpoint.", metavar="RUN_ID"),
    StageOption(
        "address", ("--address",), "Ray address (default: training.ray_address, else a local Ray)."
    ),
)
SUMMARY_KEYS = ("run_id", "steps", "epochs", "best_step", "best_val_agreement")


def run(config: PipelineConfig, context: StageContext) -> Outcome:
    """Train; the run's manifest gives the summary."""
    from mkd.store_layout import run_prefix
    from mkd.training.job import run_training

    manifest = run_training(
        config, context.store, context.console, context.option("resume"), context.option("address")
    )
    run_uri = context.store.uri_for(run_prefix(manifest["run_id"]))
    summary = {key: manifest[key] for key in SUMMARY_KEYS if key in manifest}
    return Outcome(stage="train", summary=summary, artifacts={"run": run_uri})
