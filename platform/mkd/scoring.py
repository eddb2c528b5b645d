"""Scoring: semantic JSON equality, partial credit for entities and dates. Pure functions.

A prediction that does not parse or breaks the task's schema scores 0 and counts as a violation.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from statistics import fmean
from typing import Any

from mkd.tasks.pack import TaskSpec


@dataclass(frozen=True)
class ItemScore:
    """One prediction against its truth. precision/f1 are None where the task has no such notion."""

    score: float
    precision: float | None = None
    f1: float | None = None
    violation: str | None = None


@dataclass(frozen=True)
class TaskScore:
    """Aggregate over one task's items."""

    task: str
    count: int
    score: float
    precision: float | None
    f1: float | None
    violation_rate: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _f1(precision: float, recall: float) -> float:
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def _norm(text: str) -> str:
    return " ".join(str(text).casefold().split())


def exact_match(truth: Any, pred: Any) -> ItemScore:
    return ItemScore(1.0 if truth == pred else 0.0)


json_equal = exact_match  # parsed-object equality is exactly semantic JSON equality


def entity_overlap(truth: list, pred: list) -> ItemScore:
    """Intersection over ground truth (the article's partial credit), with precision and F1."""

    def key(item: Any) -> tuple[str, str]:
        if isinstance(item, dict):
            return _norm(item.get("name", "")), str(item.get("type", ""))
        return _norm(item), ""

    t, p = {key(i) for i in truth}, {key(i) for i in pred}
    if not t:
        ok = 1.0 if not p else 0.0
        return ItemScore(ok, precision=ok, f1=ok)
    hit = len(t & p)
    recall = hit / len(t)
    precision = hit / len(p) if p else 0.0
    return ItemScore(recall, precision=precision, f1=_f1(precision, recall))


def _date_item_credit(t: dict, p: dict, phrase_found: bool) -> float:
    credit = 0.5 if phrase_found else 0.0
    credit += 0.25 if t.get("date_period") == p.get("date_period") else 0.0
    same_range = t.get("start") == p.get("start") and t.get("end") == p.get("end")
    return credit + (0.25 if same_range else 0.0)


def date_items(truth: list[dict], pred: list[dict]) -> ItemScore:
    """Per truth item: phrase found 1/2, date_period 1/4, range 1/4; mean over truth items.

    Items pair by case-folded phrase first; truth items left over pair with left-over
    predictions in order (no phrase credit), so a right range under a different span still counts.
    """
    if not truth:
        ok = 1.0 if not pred else 0.0
        return ItemScore(ok, precision=ok, f1=ok)
    unused = list(range(len(pred)))
    item_credits: list[float] = []
    leftovers: list[dict] = []
    for t in truth:
        match = next(
            (j for j in unused if _norm(pred[j].get("phrase", "")) == _norm(t["phrase"])), None
        )
        if match is None:
            leftovers.append(t)
            continue
        unused.remove(match)
        item_credits.append(_date_item_credit(t, pred[match], phrase_found=True))
    for t in leftovers:
        item_credits.append(_date_item_credit(t, pred[unused.pop(0)], False) if unused else 0.0)
    recall = sum(item_credits) / len(truth)
    precision = sum(item_credits) / len(pred) if pred else 0.0
    return ItemScore(recall, precision=precision, f1=_f1(precision, recall))


SCORERS = {
    "exact_match": exact_match,
    "json_equal": json_equal,
    "entity_overlap": entity_overlap,
    "date_items": date_items,
}


def parse_prediction(task: TaskSpec, text: str | None) -> tuple[Any, str | None]:
    """Parse and schema-check a model's answer: (value, None) or (None, violation reason)."""
    if text is None:
        return None, "no answer"
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, TypeError) as exc:
        return None, f"unparseable JSON: {exc}"
    errors = task.schema_errors(value)
    if errors:
        return None, f"schema: {errors[0]}"
    return value, None


def score_item(task: TaskSpec, truth: str, pred: str | None) -> ItemScore:
    """Score one prediction string against a truth string for `task`."""
    truth_value = json.loads(truth)
    value, violation = parse_prediction(task, pred)
    if violation:
        has_pr = task.scorer in ("entity_overlap", "date_items")
        zero = 0.0 if has_pr else None
        return ItemScore(0.0, precision=zero, f1=zero, violation=violation)
    return SCORERS[task.scorer](truth_value, value)


def aggregate(task: str, items: Iterable[ItemScore]) -> TaskScore:
    """Mean score, precision and F1 (where defined) and the schema-violation rate."""
    items = list(items)
    if not items:
        return TaskScore(task, 0, 0.0, None, None, 0.0)
    precisions = [i.precision for i in items if i.precision is not None]
    f1s = [i.f1 for i in items if i.f1 is not None]
    return TaskScore(
        task=task,
        count=len(items),
        score=fmean(i.score for i in items),
        precision=fmean(precisions) if precisions else None,
        f1=fmean(f1s) if f1s else None,
        violation_rate=sum(i.violation is not None for i in items) / len(items),
    )


def score_by_task(
    tasks: dict[str, TaskSpec], pairs: Iterable[tuple[str, str, str | None]]
) -> dict[str, TaskScore]:
    """Aggregate (task, truth, prediction) triples into one TaskScore per task."""
    grouped: dict[str, list[ItemScore]] = defaultdict(list)
    for task_name, truth, pred in pairs:
        grouped[task_name].append(score_item(tasks[task_name], truth, pred))
    return {name: aggregate(name, items) for name, items in sorted(grouped.items())}
