"""label: every (prompt, task) labeled by the teacher on Ray Data.

    python -m mkd.stages label -c configs/pipeline.yaml

Reads work/<dataset>/<version>/prompts.jsonl, labels with `data.actors` actors of
`data.actor_num_cpus` CPUs each (map_batches), skips what the label cache already holds, and
writes labeled.jsonl, quarantine.jsonl and label_report.json (last). Connects to
`data.ray_address`, or starts Ray locally on loopback. Safe to kill and re-run: labels are
cached as they arrive, so a re-run asks the teacher only for the rest. Stopping at the teacher's
budget cap (teacher.budget_usd) is a failed outcome (exit 1): the dataset is incomplete.
"""

from __future__ import annotations

from mkd.config import PipelineConfig
from mkd.stages.outcome import Outcome, StageContext, StageOption

DESCRIPTION = "Label prompts with the teacher on Ray Data."
OPTIONS: tuple[StageOption, ...] = ()
BUDGET_EXHAUSTED = "labeling stopped at the teacher budget cap (teacher.budget_usd)"


def run(config: PipelineConfig, context: StageContext) -> Outcome:
    """Label the prompts; `failed` when the teacher budget ran out before every item."""
    from mkd.data.build import stage_label
    from mkd.store_layout import work_prefix

    report = stage_label(config, context.store, context.console)
    prefix = context.store.uri_for(work_prefix(config.data.dataset, config.data.version))
    artifacts = {"report": prefix + "label_report.json"}
    if report.get("budget_exhausted"):
        return Outcome(
            stage="label", status="failed", message=BUDGET_EXHAUSTED, summary=report,
            artifacts=artifacts,
        )  # fmt: skip
    artifacts |= {"labeled": prefix + "labeled.jsonl", "quarantine": prefix + "quarantine.jsonl"}
    return Outcome(stage="label", summary=report, artifacts=artifacts)
