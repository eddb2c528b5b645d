"""Per-task metrics of one model's predictions: score, violations, agreement, latency, tokens."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import fmean

from mkd.evaluation.predict import Prediction
from mkd.records import Record, family_key
from mkd.scoring import ItemScore, TaskScore, aggregate, score_item
from mkd.tasks import TaskPack


@dataclass(frozen=True)
class TaskMetrics(TaskScore):
    """One model on one task: the scorer's aggregate against the truth, plus agreement (the
    task's scorer against the teacher's own answers), latency and tokens."""

    agreement: float
    exact_agreement: float
    agreement_low: float  # the 95% interval of `agreement` (family_interval)
    agreement_high: float
    latency_p50_s: float
    latency_p95_s: float
    prompt_tokens: float
    output_tokens: float
    seconds_per_query: float
    gold_count: int = 0
    gold_score: float | None = None
    families: int = 0  # prompt families among the items (the interval's clusters)
    design_effect: float = 1.0  # how much family clustering widens the interval (>= 1)


def agreement_interval(mean: float, n: float, z: float = 1.96) -> tuple[float, float]:
    """A 95% (z = 1.96) Wilson score interval for a mean of n item scores in [0, 1] (n may be
    an effective, fractional sample size: family_interval).

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


def family_interval(
    scores: Sequence[float], families: Sequence[str], z: float = 1.96
) -> tuple[float, float, float]:
    """The 95% interval of a mean of item scores that come in prompt families, and its design
    effect: (low, high, deff).

    A test split holds a curated prompt with its variations ("What is a soonicorn?" and two
    rewordings), and a model tends to get a family right or wrong as a whole, so the items are
    not independent and a Wilson interval over n items is too narrow. The cluster-robust
    variance of the mean, G/(G-1) * sum_f (S_f - p n_f)^2 / n^2 over the G families, divided by
    the Bernoulli variance p(1-p)/n gives the design effect; the interval is the Wilson interval
    at the effective sample size n / deff (Korn & Graubard). deff is floored at 1, so the
    interval is never narrower than the independent one, which keeps it conservative for
    partial-credit scores. One family alone is one observation.
    """
    n = len(scores)
    if n == 0:
        return 0.0, 1.0, 1.0
    p = fmean(scores)
    sums: dict[str, list[float]] = {}
    for score, family in zip(scores, families, strict=True):
        sums.setdefault(family, [0.0, 0])[0] += score
        sums[family][1] += 1
    g = len(sums)
    bernoulli = p * (1 - p) / n
    if g < 2:
        deff = float(n)
    elif bernoulli == 0:
        deff = 1.0
    else:
        robust = g / (g - 1) * sum((s - p * k) ** 2 for s, k in sums.values()) / (n * n)
        deff = max(1.0, robust / bernoulli)
    low, high = agreement_interval(p, n / deff, z)
    return low, high, deff


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
        families = [family_key(records[i]) for i in idx]
        out[task] = _summarise(task, scores, agree, [preds[i] for i in idx], on_gold, families)
    return out


def _summarise(
    task: str,
    scores: list[ItemScore],
    agree: list[ItemScore],
    preds: list[Prediction],
    gold: list[ItemScore],
    families: list[str],
) -> TaskMetrics:
    agg = aggregate(task, scores)
    latencies = [p.latency_s for p in preds]
    agreement = fmean(a.score for a in agree)
    low, high, deff = family_interval([a.score for a in agree], families)
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
        families=len(set(families)),
        design_effect=deff,
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
