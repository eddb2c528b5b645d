"""augment: curated prompts -> synthetic variations (families kept) in the store.

    python -m mkd.stages augment -c configs/pipeline.yaml

Reads data.curated and data.gazetteers, writes work/<dataset>/<version>/prompts.jsonl. A few
thousand prompts take seconds in one process, so this stage does not fan out on Ray.
"""

from __future__ import annotations

from mkd.config import PipelineConfig
from mkd.stages.outcome import Outcome, StageContext, StageOption

DESCRIPTION = "Augment curated prompts."
OPTIONS: tuple[StageOption, ...] = ()


def run(config: PipelineConfig, context: StageContext) -> Outcome:
    """Write the prompts and their augment report under work/<dataset>/<version>/."""
    from mkd.data.build import stage_augment
    from mkd.store_layout import work_prefix

    summary = stage_augment(config, context.store, context.console)
    prompts = context.store.uri_for(
        work_prefix(config.data.dataset, config.data.version) + "prompts.jsonl"
    )
    return Outcome(stage="augment", summary=summary, artifacts={"prompts": prompts})
