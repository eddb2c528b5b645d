"""dataset: labeled prompts -> review overrides -> splits by family -> dataset version.

    python -m mkd.stages dataset -c configs/pipeline.yaml

Reads work/<dataset>/<version>/labeled.jsonl (written by the label stage) and any review
overrides and imports, writes datasets/<dataset>/<version>/{train,val,test,quarantine}.jsonl and
manifest.json (last), which train reads. Refuses a version that already has a manifest
(exit 2): versions are immutable. The `build` stage runs augment, label and this in one go.
"""

from __future__ import annotations

from typing import Any

from mkd.config import PipelineConfig
from mkd.stages.outcome import Outcome, StageContext, StageOption

DESCRIPTION = "Split labeled prompts into a versioned dataset."
OPTIONS: tuple[StageOption, ...] = ()


def run(config: PipelineConfig, context: StageContext) -> Outcome:
    """Write the dataset version; its manifest last."""
    from mkd.data.build import stage_finish

    return dataset_outcome(
        "dataset", config, context, stage_finish(config, context.store, context.console)
    )


def dataset_outcome(
    stage: str, config: PipelineConfig, context: StageContext, manifest: dict[str, Any]
) -> Outcome:
    """The outcome of a stage that wrote a dataset version (dataset, build)."""
    from mkd.store_layout import dataset_prefix

    prefix = dataset_prefix(config.data.dataset, config.data.version)
    return Outcome(
        stage=stage,
        summary={
            "dataset": f"{config.data.dataset}/{config.data.version}",
            "counts": manifest["counts"],
        },
        artifacts={"dataset": context.store.uri_for(prefix)},
    )
