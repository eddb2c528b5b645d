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
    agreement_low: float  # the 95% interval of `agreement` (agreement_interval)
    agreement_high: float
    latency_p50_s: float
    latency_p95_s: float
    prompt_tokens: float
    output_tokens: float
    seconds_per_query: float
    gold_count: int = 0
    gold_score: float | None = None


def agreement_interval(mean: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """A 95% (z = 1.96) Wilson score interval for a mean of n item scores in [0, 1].

    Exact-match tasks score 0 or 1, where this is the Wilson interval of a proportion. For
    partial-credit scores it treats each item as a Bernoulli trial with the same mean, whose
    variance p(1 - p) bounds that of any score in [0, 1], so the interval is conservative.
    Unlike a normal interval it stays inside [0, 1] and does not collapse at 0 or 1.
    """
    if n <= 0:
        return 0.0, 1.0
    p = min(1.0, max(0.0, mean))
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


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


def gold_labels(
    records: Sequence[Record], gold_field: str, pack_gold: dict[tuple[str, str], str]
) -> list[str | None]:
    """The human label of each record, where one exists: a reviewed record's own output, else
    the pack's hand-labeled gold answer for the same query and task; None elsewhere."""
    return [
        r.output if is_gold(r, gold_field) else pack_gold.get((r.input, r.task)) for r in records
    ]


def task_metrics(
    pack: TaskPack,
    records: Sequence[Record],
    preds: Sequence[Prediction],
    teacher_answers: Sequence[str | None],
    gold: Sequence[str | None] | None = None,
) -> dict[str, TaskMetrics]:
    """Aggregate one model's predictions per task.

    Args:
        records: the evaluated records; their `output` is the distillation target.
        preds: the model's predictions, aligned with records.
        teacher_answers: the teacher's answer per record (None where it gave no valid one:
            the record's label stands in).
        gold: the human label per record where there is one (gold_labels), else None.
    """
    gold = gold if gold is not None else [None] * len(records)
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
        on_gold = [score_item(spec, gold[i], preds[i].output) for i in idx if gold[i] is not None]
        out[task] = _summarise(task, scores, agree, [preds[i] for i in idx], on_gold)
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
    agreement = fmean(a.score for a in agree)
    low, high = agreement_interval(agreement, len(agree))
    return TaskMetrics(
        **agg.as_dict(),
        agreement=agreement,
        exact_agreement=fmean(a.score == 1.0 for a in agree),
        agreement_low=low,
        agreement_high=high,
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
    keys = ("score", "agreement", "agreement_low", "violation_rate", "prompt_tokens",
            "output_tokens")  # fmt: skip
    out = {k: fmean(getattr(m, k) for m in ms) for k in keys}
    out["seconds_per_query"] = fmean(m.seconds_per_query for m in ms)
    out["latency_p50_s"] = fmean(m.latency_p50_s for m in ms)
    return out
