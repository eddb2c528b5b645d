from __future__ import annotations

import pytest
from mkd.dataset_versions import finished_versions, latest_dataset_version
from mkd.storage import open_store
from mkd.training.inputs import TrainingInputError, resolve_dataset


def _build(store, version: str, created_at: str, finished: bool = True) -> None:
    store.put_bytes(f"datasets/demo/{version}/train.jsonl", b"")
    if finished:
        store.put_json(f"datasets/demo/{version}/manifest.json", {"created_at": created_at})


def test_v10_is_newer_than_v9_when_built_in_the_same_second(tmp_path) -> None:
    store = open_store(f"file://{tmp_path}")
    for v in ("v9", "v10", "v2"):
        _build(store, v, "2026-12-05T10:00:00Z")
    assert finished_versions(store, "demo") == ["v2", "v9", "v10"]
    assert latest_dataset_version(store, "demo") == "v10"


def test_the_version_built_last_wins_over_a_higher_name(tmp_path) -> None:
    store = open_store(f"file://{tmp_path}")
    _build(store, "v10", "2026-12-05T10:00:00Z")
    _build(store, "v3-hotfix", "2026-12-05T11:00:00Z")
    assert latest_dataset_version(store, "demo") == "v3-hotfix"


def test_an_unfinished_build_is_never_latest(tmp_path) -> None:
    store = open_store(f"file://{tmp_path}")
    _build(store, "v1", "2026-12-05T10:00:00Z")
    _build(store, "v2", "", finished=False)
    assert latest_dataset_version(store, "demo") == "v1"


def test_training_names_the_field_when_no_version_is_finished(tmp_path) -> None:
    store = open_store(f"file://{tmp_path}")
    _build(store, "v1", "", finished=False)
    with pytest.raises(TrainingInputError, match=r"training\.dataset: no finished dataset 'demo'"):
        resolve_dataset("latest", store, "demo")
