"""Reading a dataset split from the store for evaluation (deterministic, per-task capped)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from mkd.records import Record, read_records
from mkd.storage import Store


def latest_dataset_version(store: Store, name: str) -> str:
    """The newest finished version (one with manifest.json) of dataset `name`."""
    found = []
    for key in store.list(f"datasets/{name}/"):
        parts = key.split("/")
        if len(parts) == 4 and parts[3] == "manifest.json":
            manifest = store.get_json(key)
            found.append((str(manifest.get("created_at", "")), parts[2]))
    if not found:
        raise FileNotFoundError(f"no finished dataset {name!r} in {store.uri}/datasets/")
    return max(found)[1]


def load_split(
    store: Store, dataset: str, split: str, tasks: list[str], max_per_task: int | None
) -> list[Record]:
    """The split's records of `tasks`, the first `max_per_task` of each in file order.

    Args:
        dataset: `NAME/VERSION` (a finished version: its manifest must exist).
    """
    name, _, version = dataset.partition("/")
    prefix = f"datasets/{name}/{version}/"
    if not version or not store.exists(prefix + "manifest.json"):
        raise FileNotFoundError(
            f"dataset {dataset!r}: no finished version at {store.uri_for(prefix)} "
            "(expected NAME/VERSION with a manifest.json)"
        )
    with tempfile.TemporaryDirectory() as tmp:
        local = store.get_file(prefix + f"{split}.jsonl", Path(tmp) / f"{split}.jsonl")
        records = list(read_records(local))
    kept: list[Record] = []
    counts: dict[str, int] = {}
    for r in records:
        if r.task in tasks and (max_per_task is None or counts.get(r.task, 0) < max_per_task):
            counts[r.task] = counts.get(r.task, 0) + 1
            kept.append(r)
    if not kept:
        raise ValueError(f"dataset {dataset!r} split {split!r} holds no record of tasks {tasks}")
    return kept
