"""Accuracy of the reference labeler against the pack's hand-labeled gold file."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mkd.records import canonical_json, read_records
from mkd.scoring import ItemScore, TaskScore, aggregate, score_item
from mkd.tasks.pack import TaskPack
from mkd.teachers.reference.labeler import ReferenceLabeler

GOLD_FILE = "data/gold.jsonl"


@dataclass
class Miss:
    """One gold item the labeler did not get fully right."""

    id: str
    task: str
    input: str
    truth: str
    pred: str
    score: float


@dataclass
class GoldReport:
    """Per-task scores and the misses behind them."""

    scores: dict[str, TaskScore]
    misses: list[Miss] = field(default_factory=list)


def evaluate_gold(
    pack: TaskPack, gold: str | Path | None = None, sample: str | None = None
) -> GoldReport:
    """Score ReferenceLabeler on the gold records with mkd.scoring.score_item.

    Args:
        pack: the task pack (its gold file is used when `gold` is None).
        gold: another gold JSONL file.
        sample: only records whose `sample` field equals this ("dev" or "holdout").
    """
    labeler = ReferenceLabeler(pack)
    per_task: dict[str, list[ItemScore]] = {}
    misses: list[Miss] = []
    for rec in read_records(gold or pack.data_file(GOLD_FILE)):
        if sample and getattr(rec, "sample", None) != sample:
            continue
        pred = canonical_json(labeler.predict(rec.task, rec.input, rec.context))
        item = score_item(pack.task(rec.task), rec.output, pred)
        per_task.setdefault(rec.task, []).append(item)
        if item.score < 1.0:
            rid = str(getattr(rec, "id", ""))
            misses.append(Miss(rid, rec.task, rec.input, rec.output, pred, item.score))
    scores = {task: aggregate(task, items) for task, items in sorted(per_task.items())}
    return GoldReport(scores, misses)
