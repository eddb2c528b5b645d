"""Decision-balanced loss weights: rarer answers to a task's first decision weigh more.

A small student collapses one-token decisions to the task's majority answer (currency `none`,
an empty date list) long before it learns which queries call for the others. The decision is the
first thing its answer commits to: the value of the first property in the schema's key order
(currency `mention`, the classifier's `category`), or for a list whether it is empty. Every
example of a decision class that holds share s of its task weighs s^-alpha, rescaled so that
the task's examples keep a mean weight of 1 (the task's share of the loss does not move);
alpha 0 weighs all alike, 1 gives every class the same total weight.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from mkd.records import Record
from mkd.tasks import TaskPack
from mkd.training.data import Example


def decision_of(answer: Any, schema: dict[str, Any]) -> str:
    """The answer's first decision: the first schema property's value, or list emptiness."""
    if isinstance(answer, list):
        return "empty" if not answer else "items"
    if isinstance(answer, dict):
        order = list(schema.get("properties", {})) or sorted(answer)
        first = next((k for k in order if k in answer), None)
        return f"{first}={answer[first]!r}" if first is not None else "{}"
    return repr(answer)


def balanced_weights(records: Sequence[Record], pack: TaskPack, alpha: float) -> list[float]:
    """One loss weight per record (see the module docstring); all 1.0 when alpha is 0."""
    if alpha == 0:
        return [1.0] * len(records)
    keys = [(r.task, decision_of(r.parsed_output(), pack.task(r.task).output_schema))
            for r in records]  # fmt: skip
    per_class = Counter(keys)
    per_task = Counter(task for task, _ in keys)
    raw = [(per_class[k] / per_task[k[0]]) ** -alpha for k in keys]
    task_mean = Counter()
    for (task, _), w in zip(keys, raw, strict=True):
        task_mean[task] += w / per_task[task]
    return [w / task_mean[task] for (task, _), w in zip(keys, raw, strict=True)]


def with_weights(examples: Sequence[Example], weights: Sequence[float]) -> list[Example]:
    """The examples carrying their loss weights (encode_records keeps the records' order)."""
    return [replace(e, weight=w) for e, w in zip(examples, weights, strict=True)]
