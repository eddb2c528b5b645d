"""Checking a run's inputs before any work starts: dataset, base model, tasks.

Each problem is one line naming the config field, raised as TrainingInputError.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mkd.records import Record, read_records
from mkd.store_layout import (
    dataset_manifest,
    dataset_prefix,
    dataset_split,
    latest_dataset_version,
)

SPLITS = ("train", "val")


class TrainingInputError(ValueError):
    """A run input that cannot work; the message names the field (e.g. training.dataset)."""


@dataclass
class DatasetInput:
    """Resolved training data: records per split plus what identifies them in the manifest."""

    source: str
    name: str | None
    version: str | None
    sha256: str
    train: list[Record]
    val: list[Record]

    def lineage(self) -> dict[str, Any]:
        return {"source": self.source, "name": self.name, "version": self.version,
                "sha256": self.sha256, "train": len(self.train), "val": len(self.val)}  # fmt: skip


def _read_split(path: Path, field: str) -> list[Record]:
    try:
        return list(read_records(path))
    except ValueError as exc:  # RecordError names file and line
        raise TrainingInputError(f"{field}: {exc}") from None


def _digest(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(p.read_bytes())
    return h.hexdigest()


def _local_dataset(spec: str) -> DatasetInput:
    path = Path(spec.removeprefix("file://"))
    train = path if path.is_file() else path / "train.jsonl"
    val = train.with_name("val.jsonl")
    if not train.is_file():
        raise TrainingInputError(f"training.dataset: no {train} (a dir with train.jsonl expected)")
    files = [train] + ([val] if val.is_file() else [])
    val_records = _read_split(val, "training.dataset") if val.is_file() else []
    return DatasetInput(str(path), None, None, _digest(files),
                        _read_split(train, "training.dataset"), val_records)  # fmt: skip


def _store_dataset(store: Any, name: str, version: str) -> DatasetInput:
    if version == "latest":
        try:
            version = latest_dataset_version(store, name)
        except FileNotFoundError as e:
            raise TrainingInputError(f"training.dataset: {e}") from e
    manifest = dataset_manifest(name, version)
    if not store.exists(manifest):
        raise TrainingInputError(
            f"training.dataset: dataset {name}/{version} does not exist (no "
            f"{store.uri_for(manifest)})"
        )
    with tempfile.TemporaryDirectory(prefix="mkd-data-") as tmp:
        files = []
        for split in SPLITS:
            if store.exists(key := dataset_split(name, version, split)):
                files.append(store.get_file(key, Path(tmp) / f"{split}.jsonl"))
        local = _local_dataset(tmp)
    # the folder without its trailing slash, as runs have always recorded it
    source = store.uri_for(dataset_prefix(name, version).rstrip("/"))
    local.source, local.name, local.version = source, name, version
    return local


def resolve_dataset(spec: str, store: Any, pipeline_name: str) -> DatasetInput:
    """A local directory/file, a version in the store (`v3`, `name/v3`), or `latest`."""
    if spec.startswith(("/", ".", "file://")) or Path(spec).exists():
        return _local_dataset(spec)
    name, _, version = spec.rpartition("/")
    return _store_dataset(store, name or pipeline_name, version)


def check_tasks(data: DatasetInput, tasks: list[str], field: str = "training.tasks") -> None:
    """Every task to train has training examples with labels."""
    counts = Counter(r.task for r in data.train if r.output is not None)
    missing = [t for t in tasks if counts[t] == 0]
    if missing:
        have = ", ".join(f"{t}={n}" for t, n in sorted(counts.items())) or "none"
        raise TrainingInputError(
            f"{field}: task(s) {', '.join(missing)} missing from dataset {data.source} (has {have})"
        )


def check_base_model(uri: str) -> Any:
    """Resolve the base-model URI now (FileNotFoundError becomes a one-line field error)."""
    from mkd.models.uris import resolve_model_uri

    try:
        return resolve_model_uri(uri)
    except FileNotFoundError as exc:
        raise TrainingInputError(f"training.base_model: {exc}") from None
