"""Per-task metrics of one model's predictions: score, violations, agreement, latency, tokens."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import fmean

from mkd.evaluation.predict import Prediction
from mkd.records import Record
from mkd.scoring import ItemScore, TaskScore, aggregate, score_item
from mkd.tasks import TaskPack


@dataclass(frozen=True)
class TaskMetrics(TaskScore):
    """One model on one task: the scorer's aggregate against the truth, plus agreement (the
    task's scorer against the teacher's own answers), latency and tokens."""

    agreement: float
    exact_agreement: float
    latency_p50_s: float
    latency_p95_s: float
    prompt_tokens: float
    output_tokens: float
    seconds_per_query: float
    gold_count: int = 0
    gold_score: float | None = None


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def is_gold(record: Record, gold_field: str) -> bool:
    """Human-reviewed records: the field is true, or names an accepted/corrected review."""
    value = (record.model_extra or {}).get(gold_field)
    return value is True or value in ("accepted", "corrected", "gold")


def task_metrics(
    pack: TaskPack,
    records: Sequence[Record],
    preds: Sequence[Prediction],
    teacher_answers: Sequence[str | None],
    gold_field: str = "reviewed",
) -> dict[str, TaskMetrics]:
    """Aggregate one model's predictions per task.

    Args:
        records: the evaluated records; their `output` is the distillation target.
        preds: the model's predictions, aligned with records.
        teacher_answers: the teacher's answer per record (None where it gave no valid one:
            the record's label stands in).
        gold_field: marks human-reviewed records (see is_gold).
    """
    by_task: dict[str, list[int]] = {}
    for i, r in enumerate(records):
        by_task.setdefault(r.task, []).append(i)
    out = {}
    for task, idx in sorted(by_task.items()):
        spec = pack.task(task)
        scores = [score_item(spec, records[i].output, preds[i].output) for i in idx]
        agree = [
            score_item(spec, teacher_answers[i] or records[i].output, preds[i].output) for i in idx
        ]
        gold = [s for i, s in zip(idx, scores, strict=True) if is_gold(records[i], gold_field)]
        out[task] = _summarise(task, scores, agree, [preds[i] for i in idx], gold)
    return out


def _summarise(
    task: str,
    scores: list[ItemScore],
    agree: list[ItemScore],
    preds: list[Prediction],
    gold: list[ItemScore],
) -> TaskMetrics:
    agg = aggregate(task, scores)
    latencies = [p.latency_s for p in preds]
    return TaskMetrics(
        **agg.as_dict(),
        agreement=fmean(a.score for a in agree),
        exact_agreement=fmean(a.score == 1.0 for a in agree),
        latency_p50_s=percentile(latencies, 50),
        latency_p95_s=percentile(latencies, 95),
        prompt_tokens=fmean(p.prompt_tokens for p in preds),
        output_tokens=fmean(p.output_tokens for p in preds),
        seconds_per_query=fmean(latencies),
        gold_count=len(gold),
        gold_score=fmean(g.score for g in gold) if gold else None,
    )


def overall(metrics: dict[str, TaskMetrics]) -> dict[str, float]:
    """Unweighted means over tasks (each task counts the same, whatever its item count)."""
    if not metrics:
        return {}
    ms = list(metrics.values())
    keys = ("score", "agreement", "violation_rate", "prompt_tokens", "output_tokens")
    out = {k: fmean(getattr(m, k) for m in ms) for k in keys}
    out["seconds_per_query"] = fmean(m.seconds_per_query for m in ms)
    out["latency_p50_s"] = fmean(m.latency_p50_s for m in ms)
    return out
