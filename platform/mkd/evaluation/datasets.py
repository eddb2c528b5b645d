"""Reading a dataset split from the store for evaluation (deterministic, per-task capped)."""

from __future__ import annotations

import hashlib
import tempfile
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

from mkd.records import Record, family_key, read_records
from mkd.storage import Store
from mkd.store_layout import dataset_manifest, dataset_prefix, dataset_split


def load_split(
    store: Store, dataset: str, split: str, tasks: list[str], max_per_task: int | None
) -> list[Record]:
    """The split's records of `tasks`, at most `max_per_task` of each (see spread_sample).

    Args:
        dataset: `NAME/VERSION` (a finished version: its manifest must exist).
    """
    name, _, version = dataset.partition("/")
    prefix = dataset_prefix(name, version)
    if not version or not store.exists(dataset_manifest(name, version)):
        raise FileNotFoundError(
            f"dataset {dataset!r}: no finished version at {store.uri_for(prefix)} "
            "(expected NAME/VERSION with a manifest.json)"
        )
    with tempfile.TemporaryDirectory() as tmp:
        local = store.get_file(dataset_split(name, version, split), Path(tmp) / f"{split}.jsonl")
        records = list(read_records(local))
    kept = spread_sample(records, tasks, max_per_task)
    if not kept:
        raise ValueError(f"dataset {dataset!r} split {split!r} holds no record of tasks {tasks}")
    return kept


def _stable_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def spread_sample(
    records: Iterable[Record], tasks: list[str], max_per_task: int | None
) -> list[Record]:
    """Up to `max_per_task` records per task, spread over as many prompt families as possible.

    A split lists a family's variations next to each other, so its first N items would cover a
    handful of families (the first 30 of a demo test split: 4 curated prompts and 26 of their
    variations). Families are visited in an order fixed by a hash of their id, one item from
    each per round: deterministic, independent of file order, and every family counts once
    before any counts twice.
    """
    families: dict[str, dict[str, list[Record]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        if r.task in tasks:
            families[r.task][family_key(r)].append(r)
    kept: list[Record] = []
    for task in sorted(families):
        groups = [
            sorted(items, key=lambda r: _stable_key(r.input))
            for _, items in sorted(families[task].items(), key=lambda kv: _stable_key(kv[0]))
        ]
        picked: list[Record] = []
        for depth in range(max(len(g) for g in groups)):
            picked += [g[depth] for g in groups if depth < len(g)]
            if max_per_task is not None and len(picked) >= max_per_task:
                break
        kept += picked[:max_per_task]
    return kept
