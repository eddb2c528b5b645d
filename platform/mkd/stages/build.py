"""build: the whole dataset build in one run: augment -> label -> review overrides -> splits.

    python -m mkd.stages build -c configs/pipeline.yaml      (`mkd data build`; alias build_data)

Writes datasets/<dataset>/<version>/{train,val,test,quarantine}.jsonl and manifest.json (last).
Refuses a version that already has a manifest (exit 2): versions are immutable. Stopping at the
teacher's budget cap fails the build (exit 1); labels so far are cached for the re-run.
"""

from __future__ import annotations

from mkd.config import PipelineConfig
from mkd.stages.dataset import dataset_outcome
from mkd.stages.outcome import Outcome, StageContext, StageOption

DESCRIPTION = "Build a versioned dataset: augment, label, splits."
OPTIONS: tuple[StageOption, ...] = ()


def run(config: PipelineConfig, context: StageContext) -> Outcome:
    """Build the dataset version named by data.dataset and data.version."""
    from mkd.data.build import build_dataset

    manifest = build_dataset(config, context.store, context.console)
    return dataset_outcome("build", config, context, manifest)
