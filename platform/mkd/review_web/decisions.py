"""A reviewer's decision on an item -> a review row (the shape parse_review produces).

The row holds who (reviewer), when (reviewed_at), before (previous_output: the label the item
had) and after (output: the label it has once the build applies the row), so that the next
`mkd data build` applies it as an override (data.review.apply_overrides) and evaluation reads the
record as human gold (`reviewed: accepted|corrected`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from mkd.data.review import VERDICTS, load_overrides, store_reviews
from mkd.records import canonical_json
from mkd.review_web.items import ReviewItem
from mkd.storage import Store
from mkd.tasks import TaskPack

WEB_FILE = "web"  # the `file` of a row decided on the review page


@dataclass(frozen=True)
class Decision:
    verdict: str  # accept | correct | reject
    reviewer: str
    corrected: str = ""  # the editor's JSON text, for `correct`
    notes: str = ""


class DecisionError(ValueError):
    """A decision that cannot be stored; `errors` are shown next to the editor."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


def corrected_output(pack: TaskPack, task: str, text: str) -> str:
    """The editor's text as a canonical label; DecisionError with every schema error otherwise."""
    if not text.strip():
        raise DecisionError(["the corrected answer is empty"])
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DecisionError(
            [f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"]
        ) from None
    errors = pack.task(task).schema_errors(value)
    if errors:
        raise DecisionError([f"breaks the {task} schema: {e}" for e in errors])
    return canonical_json(value)


def review_row(
    pack: TaskPack, item: ReviewItem, decision: Decision, now: datetime | None = None
) -> dict:
    """The review row for `decision` on `item`; DecisionError when it is not storable."""
    if decision.verdict not in VERDICTS:
        raise DecisionError([f"verdict must be one of {', '.join(VERDICTS)}"])
    if item.task not in pack.tasks:
        raise DecisionError([f"unknown task {item.task!r}"])
    before = item.teacher
    after = before
    if decision.verdict == "correct":
        after = corrected_output(pack, item.task, decision.corrected)
    elif decision.verdict == "accept" and before is None:
        raise DecisionError(["nothing to accept: the item has no answer (correct or reject it)"])
    stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {
        "id": item.id,
        "task": item.task,
        "input_sha256": item.input_sha256,
        "verdict": decision.verdict,
        "output": after,
        "previous_output": before,
        "reviewer": decision.reviewer.strip() or "unknown",
        "notes": decision.notes,
        "reviewed_at": stamp,
        "file": WEB_FILE,
        "kinds": list(item.kinds),
    }


def store_decision(store: Store, dataset: str, version: str, row: dict) -> str:
    """One decision as its own review file (data.review.store_reviews); returns the key."""
    return store_reviews(store, dataset, version, [row])


def latest_decisions(store: Store, dataset: str, version: str) -> dict[str, dict]:
    """The row that wins per item id (the last stored), from every review source."""
    return {r["id"]: r for r in load_overrides(store, dataset, version)}
