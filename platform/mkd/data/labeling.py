"""Labeling items with the teacher: pre-checks, the label cache, schema validation, quarantine.

`label_rows` is the whole per-batch logic (pure enough to test without Ray); `LabelWorker` wraps
it as a Ray Data actor; `run_labeling` drives a Ray Data pipeline and a progress bar.
Every item ends in exactly one state: labeled, quarantined (with its reason and the raw answer),
or unlabeled (the budget ran out; a re-run resumes from the cache).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from typing import Any

from mkd.config.pipeline import PipelineConfig
from mkd.guards import GuardChain
from mkd.guards.labeling import guard_item, guard_row
from mkd.records import canonical_json, family_key
from mkd.tasks import TaskPack, load_pack
from mkd.teachers.base import LabelRequest, TeacherBackend
from mkd.teachers.openai_backend import BUDGET_EXHAUSTED

LABELED, QUARANTINED, UNLABELED = "labeled", "quarantined", "unlabeled"


def make_items(prompts: list[dict], tasks: list[str], pack: TaskPack) -> list[dict]:
    """One item per (prompt, task); a prompt with its own `task` gets only that one.

    as_of is written into every item's context so a label never depends on a pack default.
    """
    items = []
    for p in prompts:
        context = {"as_of": pack.as_of(p.get("context")), **(p.get("context") or {})}
        for task in [p["task"]] if p.get("task") else tasks:
            items.append(
                {
                    "id": f"{p['id']}:{task}",
                    "prompt_id": p["id"],
                    "family": family_key(p),
                    "source": p.get("source") or "",
                    "task": task,
                    "input": p["input"],
                    "context_json": canonical_json(context),
                }
            )
    return items


def precheck(item: dict, pack: TaskPack, max_chars: int) -> str | None:
    """Why an item must not go to the teacher, or None."""
    if item["task"] not in pack.tasks:
        return f"unknown task {item['task']!r} (pack {pack.name!r} has: {', '.join(pack.tasks)})"
    text = item["input"]
    if not text.strip():
        return "empty prompt"
    if len(text) > max_chars:
        return f"prompt too long: {len(text)} characters (data.max_input_chars={max_chars})"
    return None


def normalise(pack: TaskPack, task: str, value: Any) -> tuple[str | None, str | None]:
    """(canonical JSON, None) for a schema-valid answer, else (None, the schema problem)."""
    errors = pack.task(task).schema_errors(value)
    if errors:
        return None, f"schema: {errors[0]}"
    return canonical_json(value), None


def _row(item: dict, status: str, **fields: Any) -> dict[str, Any]:
    base = {"status": status, "output": "", "reason": "", "raw": "", "cached": False}
    base |= {"prompt_tokens": 0, "completion_tokens": 0, "cost_usd": 0.0}
    return {**item, **base, **fields}


def label_rows(
    rows: list[dict],
    pack: TaskPack,
    teacher: TeacherBackend,
    cache: Any = None,
    max_chars: int = 4000,
    guards: Any = None,
) -> list[dict]:
    """Label one batch of items: pre-check, cache hits, teacher for the rest, validate, cache.

    `guards` (an mkd.guards.GuardChain): the teacher sees and the dataset stores the redacted
    query; blocked queries and answers failing the output guards are quarantined.
    """
    out: dict[str, dict] = {}
    pending: list[tuple[dict, str]] = []
    from mkd.data.label_cache import cache_key

    for item in rows:
        reason = precheck(item, pack, max_chars)
        if not reason and guards is not None:
            item, reason = guard_item(item, guards)
        if reason:
            out[item["id"]] = _row(item, QUARANTINED, reason=reason)
            continue
        version = pack.task(item["task"]).prompt_version
        context = json.loads(item["context_json"])
        key = cache_key(item["task"], item["input"], context, teacher.teacher_id, version)
        pending.append((item, key))
    hits = cache.get_many([k for _, k in pending]) if cache is not None else {}
    misses = [(item, key) for item, key in pending if key not in hits]
    for item, key in pending:
        if key in hits:
            out[item["id"]] = _row(item, LABELED, output=hits[key]["output"], cached=True)
    new_entries = _ask_teacher(misses, pack, teacher, out)
    if cache is not None and new_entries:
        cache.put_many(new_entries)
    if guards is not None:
        return [guard_row(out[item["id"]], guards) for item in rows]
    return [out[item["id"]] for item in rows]


def _ask_teacher(
    misses: list[tuple[dict, str]], pack: TaskPack, teacher: TeacherBackend, out: dict
) -> dict[str, dict]:
    if not misses:
        return {}
    requests = [
        LabelRequest(item["id"], item["task"], item["input"], json.loads(item["context_json"]))
        for item, _ in misses
    ]
    try:
        results = teacher.label(requests)
    except Exception as exc:  # a broken backend quarantines this batch, not the job
        results = None
        for item, _ in misses:
            reason = f"teacher failed: {type(exc).__name__}: {exc}"
            out[item["id"]] = _row(item, QUARANTINED, reason=reason)
        return {}
    entries = {}
    for (item, key), res in zip(misses, results, strict=True):
        usage = {
            "prompt_tokens": res.usage.prompt_tokens,
            "completion_tokens": res.usage.completion_tokens,
            "cost_usd": res.usage.cost_usd,
        }
        raw = res.raw or ""
        if res.error == BUDGET_EXHAUSTED:
            out[item["id"]] = _row(item, UNLABELED, reason=res.error, **usage)
            continue
        output, reason = (
            (None, res.error) if res.error else normalise(pack, item["task"], res.output)
        )
        if reason:
            out[item["id"]] = _row(item, QUARANTINED, reason=reason, raw=raw, **usage)
            continue
        out[item["id"]] = _row(item, LABELED, output=output, raw=raw, **usage)
        entries[key] = {
            "task": item["task"],
            "input": item["input"],
            "context": json.loads(item["context_json"]),
            "teacher_id": teacher.teacher_id,
            "prompt_version": pack.task(item["task"]).prompt_version,
            "output": output,
            "raw": raw,
            "usage": usage,
            "labeled_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
    return entries


class LabelWorker:
    """A Ray Data actor: builds the teacher and cache once, then labels pandas batches."""

    def __init__(self, config: dict[str, Any]) -> None:
        from mkd.data.label_cache import LabelCache
        from mkd.storage import open_store
        from mkd.teachers.factory import make_teacher

        cfg = PipelineConfig.model_validate(config)
        self.pack = load_pack(cfg.pack)
        self.teacher = make_teacher(cfg.teacher, self.pack, share=cfg.data.actors)
        self.cache = LabelCache(open_store(cfg.store)) if cfg.data.label_cache else None
        self.max_chars = cfg.data.max_input_chars
        self.guards = (
            GuardChain(cfg.guards, self.pack, path="labeling") if cfg.guards.enabled else None
        )

    def __call__(self, batch: Any) -> Any:
        import pandas as pd

        rows = batch.to_dict("records")
        return pd.DataFrame(
            label_rows(rows, self.pack, self.teacher, self.cache, self.max_chars, self.guards)
        )


@dataclass
class LabelReport:
    """Counts that must add up: total == labeled + quarantined + unlabeled."""

    total: int = 0
    labeled: int = 0
    quarantined: int = 0
    unlabeled: int = 0
    cached: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    elapsed_s: float = 0.0
    budget_exhausted: bool = False

    def add(self, row: dict) -> None:
        self.total += 1
        setattr(self, row["status"], getattr(self, row["status"]) + 1)
        self.cached += bool(row["cached"])
        self.prompt_tokens += int(row["prompt_tokens"])
        self.completion_tokens += int(row["completion_tokens"])
        self.cost_usd += float(row["cost_usd"])

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
