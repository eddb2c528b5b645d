"""What the review page lists: sampled labels, student-teacher disagreements, guard-flagged rows.

Every item names a record of the configured dataset version (work/<dataset>/<version>/), since a
decision becomes a review override that the next `mkd data build` of that version applies.

- sample: the stratified sample a review export takes (data.review.sample_for_review).
- disagreement: the latest evaluation report's items where the student agrees least with the
  teacher (the task's scorer, as evaluation's `agreement`), matched to a record by task and query.
- guard: quarantine rows whose reason starts with `guard:` (their query is already redacted).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from mkd.data.review import input_sha256, sample_for_review
from mkd.scoring import score_item
from mkd.storage import Store
from mkd.store_layout import eval_predictions, latest_eval_id
from mkd.tasks import TaskPack

Kind = Literal["sample", "disagreement", "guard"]


@dataclass
class ReviewItem:
    """One thing to review: a record's query, its label (`teacher`), the student's answer."""

    id: str
    task: str
    input: str
    teacher: str | None  # the record's label: what accept keeps and correct replaces
    student: str | None = None
    kinds: list[Kind] = field(default_factory=list)
    agreement: float | None = None  # the scorer's student-vs-teacher score, where evaluated
    reason: str | None = None  # a guard's quarantine reason
    as_of: str = ""

    @property
    def input_sha256(self) -> str:
        return input_sha256(self.input)


def read_jsonl(store: Store, key: str) -> list[dict]:
    """Rows of a JSONL object; [] when it does not exist."""
    if not store.exists(key):
        return []
    return [json.loads(x) for x in store.get_bytes(key).splitlines() if x.strip()]


def _key(task: str, text: str) -> tuple[str, str]:
    return task, text


def sampled_items(records: Sequence[dict], per_task: int, seed: int) -> list[ReviewItem]:
    """The records a review export would take, as items (label = the teacher's answer)."""
    return [
        ReviewItem(
            id=r["id"],
            task=r["task"],
            input=r["input"],
            teacher=r["output"],
            kinds=["sample"],
            as_of=(r.get("context") or {}).get("as_of", ""),
        )
        for r in sample_for_review(list(records), per_task, seed)
    ]


def _paired(student: Sequence[dict], teacher: Sequence[dict]) -> list[tuple[dict, dict | None]]:
    """Student prediction rows with the teacher's row on the same task and query."""
    by_key = {_key(t["task"], t["input"]): t for t in teacher}
    return [(s, by_key.get(_key(s["task"], s["input"]))) for s in student]


def disagreement_items(
    pack: TaskPack,
    records: Sequence[dict],
    student: Sequence[dict],
    teacher: Sequence[dict],
    limit: int,
) -> list[ReviewItem]:
    """Up to `limit` evaluated items the student agrees least with the teacher on (score < 1).

    Agreement is the task's scorer on the teacher's valid answer (else the record's label), as
    evaluation computes it; items whose query is not a record of this version are skipped.
    """
    by_key = {_key(r["task"], r["input"]): r for r in records}
    scored: list[tuple[float, int, ReviewItem]] = []
    for n, (s, t) in enumerate(_paired(student, teacher)):
        rec = by_key.get(_key(s["task"], s["input"]))
        if rec is None or s["task"] not in pack.tasks:
            continue
        spec = pack.task(s["task"])
        valid_teacher = t.get("output") if t and not t.get("violation") else None
        truth = valid_teacher or rec["output"]
        score = score_item(spec, truth, s.get("output")).score
        if score >= 1.0:
            continue
        item = ReviewItem(
            id=rec["id"],
            task=rec["task"],
            input=rec["input"],
            teacher=rec["output"],
            student=s.get("output"),
            kinds=["disagreement"],
            agreement=round(score, 4),
            as_of=(rec.get("context") or {}).get("as_of", ""),
        )
        scored.append((score, n, item))
    return [item for _, _, item in sorted(scored, key=lambda x: (x[0], x[1]))[:limit]]


def guard_items(quarantine: Sequence[dict]) -> list[ReviewItem]:
    """Quarantine rows a guard flagged; the query shown is the redacted text they hold."""
    return [
        ReviewItem(
            id=str(q["id"]),
            task=str(q.get("task", "")),
            input=str(q.get("input", "")),
            teacher=q.get("raw") or None,
            kinds=["guard"],
            reason=q["reason"],
        )
        for q in quarantine
        if str(q.get("reason", "")).startswith("guard:")
    ]


def merge_items(
    *groups: Sequence[ReviewItem], student: dict[tuple[str, str], str]
) -> list[ReviewItem]:
    """One item per id, in order of first appearance; kinds merged; the student's answer filled
    in from the evaluation where the item has none."""
    out: dict[str, ReviewItem] = {}
    for group in groups:
        for item in group:
            if item.id in out:
                seen = out[item.id]
                seen.kinds += [k for k in item.kinds if k not in seen.kinds]
                if seen.agreement is None:
                    seen.agreement, seen.student = item.agreement, item.student
                continue
            out[item.id] = item
    for item in out.values():
        if item.student is None:
            item.student = student.get(_key(item.task, item.input))
    return list(out.values())


@dataclass
class ItemSource:
    """Where the items come from: the dataset version's work files and the latest evaluation."""

    records: list[dict]
    quarantine: list[dict]
    eval_id: str | None
    student: list[dict]
    teacher: list[dict]
    problems: list[str] = field(default_factory=list)


def load_source(store: Store, work_prefix: str, ds_prefix: str) -> ItemSource:
    """Records (labeled.jsonl), the quarantine (the finished version's, else the work one) and
    the latest evaluation's predictions."""
    problems = []
    records = read_jsonl(store, work_prefix + "labeled.jsonl")
    if not records:
        problems.append(f"no labeled records at {store.uri_for(work_prefix + 'labeled.jsonl')}")
    quarantine = read_jsonl(store, ds_prefix + "quarantine.jsonl") or read_jsonl(
        store, work_prefix + "quarantine.jsonl"
    )
    eval_id = latest_eval_id(store)
    student: list[dict] = []
    teacher: list[dict] = []
    if eval_id is None:
        problems.append("no evaluation report under evals/: no disagreements to list")
    else:
        student = read_jsonl(store, eval_predictions(eval_id, "student"))
        teacher = read_jsonl(store, eval_predictions(eval_id, "teacher"))
    return ItemSource(records, quarantine, eval_id, student, teacher, problems)


def collect_items(
    pack: TaskPack, source: ItemSource, per_task: int, disagreements: int, seed: int
) -> list[ReviewItem]:
    """Disagreements first (most to learn from), then the sample, then guard-flagged rows."""
    answers: dict[tuple[str, str], Any] = {
        _key(s["task"], s["input"]): s.get("output") for s in source.student
    }
    return merge_items(
        disagreement_items(pack, source.records, source.student, source.teacher, disagreements),
        sampled_items(source.records, per_task, seed),
        guard_items(source.quarantine),
        student=answers,
    )
