"""Dataset v(N+1) from v(N): the fixed benchmark carried over, new feedback and imports added.

`mkd loop` grows the dataset one version at a time:

- test.jsonl of v(N) is copied byte for byte: the fixed benchmark. Every version of a lineage
  scores on the same items, so their numbers compare; the manifest records its sha256 and the
  version it was first built in (`benchmark.origin`), and a build whose copy differs refuses.
- train.jsonl and val.jsonl of v(N) are kept; v(N)'s test_new.jsonl (last turn's new items,
  already evaluated on) joins train/val by family.
- The teacher answers the serving Router logged since v(N) was built (serving.capture's
  feedback/), and the version's own imports (`mkd data import-logs`), become records: every
  answer validated and normalised against the task schema (mkd.data.labeling.normalise),
  the family a hash of the normalised query (mkd.data.log_import.query_family), so a query never
  straddles splits. A query already in v(N), under any task, is skipped and counted; an invalid
  entry is quarantined with its reason. The new families split into train/val and test_new.jsonl
  (loop.new_test_fraction), the new items the report compares both versions on.
- Review overrides of the new version (reviews/<dataset>/<version>/) apply to train/val and the
  new items, never to the benchmark.

Version names follow mkd.store_layout: the parent's number plus one (v10 after v9).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console

from mkd.config.data import SplitConfig
from mkd.config.pipeline import PipelineConfig
from mkd.data.labeling import normalise
from mkd.data.log_import import load_imports, merge_imports, query_family, repeat_of
from mkd.data.manifest import build_manifest, write_version
from mkd.data.near_dup import normalise_text
from mkd.data.prompts_io import to_jsonl
from mkd.data.review import apply_overrides, load_overrides
from mkd.data.splits import family_overlap, split_of
from mkd.records import family_key
from mkd.storage import Store, sha256_bytes
from mkd.store_layout import (
    dataset_manifest,
    dataset_prefix,
    dataset_split,
    finished_dataset_versions,
    latest_dataset_version,
)
from mkd.tasks import TaskPack, load_pack

BENCHMARK = "test.jsonl"
NEW_ITEMS = "test_new.jsonl"


class NothingNew(RuntimeError):
    """Fewer new records than loop.min_new_items: no version is built."""


def next_version_name(store: Store, dataset: str, parent: str) -> str:
    """The name after `parent`: its trailing number plus one (v9 -> v10), past every finished
    version sharing its stem; `parent` without a number gets `-2`."""
    match = re.fullmatch(r"(.*?)(\d+)", parent)
    stem, number = (match.group(1), int(match.group(2))) if match else (f"{parent}-", 1)
    taken = [
        int(m.group(1))
        for v in finished_dataset_versions(store, dataset)
        if (m := re.fullmatch(re.escape(stem) + r"(\d+)", v))
    ]
    return f"{stem}{max([number, *taken]) + 1}"


def _parse_ts(text: str) -> dt.datetime | None:
    try:
        when = dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


@dataclass
class FeedbackResult:
    """What the feedback log gave: records, quarantine rows and the counts of what was skipped."""

    records: list[dict[str, Any]] = field(default_factory=list)
    quarantine: list[dict[str, Any]] = field(default_factory=list)
    in_parent: int = 0  # a query v(N) already holds: skipped
    duplicates: int = 0  # the same (task, query, answer) again
    entries: int = 0

    def report(self) -> dict[str, Any]:
        reasons: dict[str, int] = {}
        for q in self.quarantine:
            key = q["reason"].split(":")[0]
            reasons[key] = reasons.get(key, 0) + 1
        return {
            "entries": self.entries,
            "records": len(self.records),
            "skipped_in_parent": self.in_parent,
            "duplicates": self.duplicates,
            "quarantined": len(self.quarantine),
            "quarantine_reasons": dict(sorted(reasons.items())),
        }


def _fb_quarantine(entry: dict, n: int, reason: str) -> dict[str, Any]:
    return {
        "id": f"feedback:{entry.get('request_id') or n}",
        "task": entry.get("task"),
        "input": entry.get("input") if isinstance(entry.get("input"), str) else None,
        "ts": entry.get("ts"),
        "reason": reason,
        "raw": entry.get("teacher_output"),
    }


def feedback_record(entry: dict, pack: TaskPack, tasks: list[str]) -> tuple[dict | None, str]:
    """(the record, "") for a valid feedback entry, else (None, the reason)."""
    task, query = entry.get("task"), entry.get("input")
    if task not in pack.tasks:
        return None, f"task: unknown task {task!r} (pack {pack.name!r})"
    if task not in tasks:
        return None, f"task: {task!r} is not one of this pipeline's tasks"
    if not isinstance(query, str) or not query.strip():
        return None, "input: empty or missing"
    if entry.get("teacher_output") is None:
        return None, "teacher_output: missing"
    output, problem = normalise(pack, task, entry["teacher_output"])
    if output is None:
        return None, f"teacher_output: {problem}"
    context = entry.get("context") if isinstance(entry.get("context"), dict) else {}
    family = query_family(query)
    return {
        "id": f"fb-{family.removeprefix('q-')}:{task}",
        "prompt_id": f"fb-{family.removeprefix('q-')}",
        "family": family,
        "source": f"feedback:{entry.get('source') or 'unknown'}",
        "input": query,
        "task": task,
        "output": output,
        "context": {**context, "as_of": pack.as_of(context)},
        "teacher": str(entry.get("teacher_version") or ""),
        "prompt_version": "feedback",
        "feedback": {
            k: entry.get(k) for k in ("ts", "source", "request_id", "score", "student_version")
        },
    }, ""


def feedback_records(
    entries: list[dict], pack: TaskPack, tasks: list[str], parent_queries: set[str]
) -> FeedbackResult:
    """Every entry as a record, a quarantine row, or a counted skip (in v(N), or a repeat).

    The same (task, query) twice with the same answer is a duplicate; with another answer the
    later one is quarantined as a conflict (the earlier one stays)."""
    result = FeedbackResult(entries=len(entries))
    seen: dict[tuple[str, str], dict] = {}
    for n, entry in enumerate(entries, start=1):
        record, reason = feedback_record(entry, pack, tasks)
        if record is None:
            result.quarantine.append(_fb_quarantine(entry, n, reason))
            continue
        query = normalise_text(record["input"])
        if query in parent_queries:
            result.in_parent += 1
            continue
        first = repeat_of(seen, record)
        if first is None:
            result.records.append(record)
        elif first["output"] == record["output"]:
            result.duplicates += 1
        else:
            reason = (
                "conflict: another teacher answer than the entry of "
                f"{first['feedback']['ts']} for the same query"
            )
            result.quarantine.append(_fb_quarantine(entry, n, reason))
    return result


def _records(data: bytes) -> list[dict]:
    return [json.loads(x) for x in data.splitlines() if x.strip()]


def new_item_splits(cfg: PipelineConfig) -> SplitConfig:
    """train/val/test fractions of the new families: test is loop.new_test_fraction (test_new),
    the rest shared as data.splits shares train and val."""
    f, s = cfg.loop.new_test_fraction, cfg.data.splits
    keep = s.train + s.val
    return SplitConfig(train=(1 - f) * s.train / keep, val=(1 - f) * s.val / keep, test=f)


def _train_or_val(family: str, seed: int, splits: SplitConfig) -> str:
    """train or val for a family kept out of test_new (its own hash, the train:val ratio)."""
    u = int.from_bytes(hashlib.sha256(f"{seed}:tv:{family}".encode()).digest()[:8], "big") / 2**64
    return "train" if u < splits.train / (splits.train + splits.val) else "val"


def read_since(parent_manifest: dict) -> dt.datetime | None:
    """Feedback after this moment is new to the child: when v(N) read the log, else its build."""
    fb = parent_manifest.get("feedback") or {}
    return _parse_ts(fb.get("until") or parent_manifest.get("created_at") or "")


def build_next_version(
    cfg: PipelineConfig,
    store: Store,
    parent: str,
    version: str,
    console: Console | None = None,
) -> dict[str, Any]:
    """Write dataset `version` from `parent` (both names under data.dataset); returns its manifest.

    Raises:
        FileNotFoundError: the parent is not a finished version.
        RuntimeError: the parent's benchmark does not match its manifest, or families leak.
        mkd.data.manifest.VersionExists: `version` is already finished.
    """
    from mkd.feedback import read_feedback

    console = console or Console(stderr=True)
    name, pack = cfg.data.dataset, load_pack(cfg.pack)
    p_manifest_key = dataset_manifest(name, parent)
    if not store.exists(p_manifest_key):
        raise FileNotFoundError(f"dataset {name}/{parent}: no {store.uri_for(p_manifest_key)}")
    p_manifest = store.get_json(p_manifest_key)
    benchmark = store.get_bytes(dataset_split(name, parent, "test"))
    bench_sha = sha256_bytes(benchmark)
    recorded = (p_manifest.get("benchmark") or {}).get("sha256") or (
        (p_manifest.get("files") or {}).get(BENCHMARK) or {}
    ).get("sha256")
    if recorded and recorded != bench_sha:
        raise RuntimeError(
            f"dataset {name}/{parent}: {BENCHMARK} has sha256 {bench_sha[:12]}..., its manifest "
            f"records {recorded[:12]}...; the fixed benchmark changed, refusing to carry it over"
        )
    parent_splits = {
        s: _records(store.get_bytes(key))
        for s in ("train", "val", "test_new")
        if store.exists(key := dataset_split(name, parent, s))
    }
    test = _records(benchmark)
    parent_all = [r for recs in parent_splits.values() for r in recs] + test
    parent_queries = {normalise_text(r["input"]) for r in parent_all}

    since = read_since(p_manifest)
    until = dt.datetime.now(dt.UTC)
    entries = [
        e
        for e in read_feedback(store, pack.name, since.date() if since else None)
        if since is None or ((ts := _parse_ts(e.get("ts") or "")) is not None and ts > since)
    ]
    fb = feedback_records(entries, pack, cfg.tasks, parent_queries)
    imported, import_quarantine, imports = load_imports(store, name, version)
    in_parent = [r for r in imported if normalise_text(r["input"]) in parent_queries]
    imported = [r for r in imported if normalise_text(r["input"]) not in parent_queries]
    added, import_duplicates = merge_imports(fb.records, imported)
    new = fb.records + added
    if len(new) < cfg.loop.min_new_items:
        raise NothingNew(
            f"{len(new)} new record(s) since {name}/{parent} (feedback: {fb.entries} entries, "
            f"{fb.in_parent} already in {parent}, {len(fb.quarantine)} quarantined; imports: "
            f"{len(added)}), loop.min_new_items is {cfg.loop.min_new_items}: no version built"
        )

    carried = parent_splits.get("train", []) + parent_splits.get("val", [])
    previous_new = parent_splits.get("test_new", [])
    overrides = load_overrides(store, name, version)
    reviewed, review, rejected = apply_overrides(carried + previous_new + new, overrides)
    kept = {r["id"] for r in reviewed}
    by_id = {r["id"]: r for r in reviewed}

    splits: dict[str, list[dict]] = {"train": [], "val": [], "test": test, "test_new": []}
    for s in ("train", "val"):
        splits[s] = [by_id[r["id"]] for r in parent_splits.get(s, []) if r["id"] in kept]
    ratios = new_item_splits(cfg)
    for rec in previous_new:  # last turn's new items: evaluated on already, now trained on
        if rec["id"] in kept:
            splits[_train_or_val(family_key(rec), cfg.seed, ratios)].append(by_id[rec["id"]])
    for rec in new:
        if rec["id"] not in kept:
            continue
        where = split_of(rec["family"], cfg.seed, ratios)
        splits["test_new" if where == "test" else where].append(by_id[rec["id"]])
    leaks = family_overlap(splits)
    if leaks:  # impossible by construction; refuse rather than publish a leaking split
        raise RuntimeError(f"families in two splits: {leaks}")

    quarantine = fb.quarantine + import_quarantine + import_duplicates + rejected
    files = {
        "train.jsonl": to_jsonl(splits["train"]),
        "val.jsonl": to_jsonl(splits["val"]),
        BENCHMARK: benchmark,
        NEW_ITEMS: to_jsonl(splits["test_new"]),
        "quarantine.jsonl": to_jsonl(quarantine),
    }
    p_bench = p_manifest.get("benchmark") or {}
    extra = {
        "pack": {"name": pack.name, "version": pack.version},
        "prompt_versions": {t: pack.task(t).prompt_version for t in cfg.tasks},
        "parent": f"{name}/{parent}",
        "seed": cfg.seed,
        "split_ratios": cfg.data.splits.model_dump(),
        "new_test_fraction": cfg.loop.new_test_fraction,
        "benchmark": {
            "file": BENCHMARK,
            "sha256": bench_sha,
            "records": len(test),
            "inherited": True,
            "from": f"{name}/{parent}",
            "origin": p_bench.get("origin") or f"{name}/{parent}",
        },
        "new_items": {
            "file": NEW_ITEMS,
            "records": len(splits["test_new"]),
            "families": len({r["family"] for r in splits["test_new"]}),
        },
        "carried": {
            "train": len(parent_splits.get("train", [])),
            "val": len(parent_splits.get("val", [])),
            "test_new_to_train_val": len(previous_new),
        },
        "feedback": {
            **fb.report(),
            "since": since.isoformat() if since else None,
            "until": until.isoformat(timespec="milliseconds"),
        },
        "imports": imports,
        "imports_skipped_in_parent": len(in_parent),
        "review": review,
    }
    manifest = build_manifest(name, version, files, splits, extra)
    write_version(store, dataset_prefix(name, version), files, manifest)
    console.print(
        f"dataset {name}/{version} from {name}/{parent}: {manifest['counts']['splits']}; "
        f"feedback {fb.entries} entries -> {len(fb.records)} records, {fb.in_parent} already in "
        f"{parent}, {fb.duplicates} duplicates, {len(fb.quarantine)} quarantined"
    )
    return manifest


def resolve_versions(cfg: PipelineConfig, store: Store) -> tuple[str, str]:
    """(parent, child): loop.parent or the highest-numbered finished version; loop.version or
    the next name after the parent."""
    parent = cfg.loop.parent or latest_dataset_version(store, cfg.data.dataset)
    child = cfg.loop.version or next_version_name(store, cfg.data.dataset, parent)
    return parent, child
