"""Dataset v(N+1) from v(N) and the feedback log: fixed benchmark, new families, skips, names."""

from __future__ import annotations

import json

import pytest
from mkd.config import parse_config
from mkd.data.next_version import (
    NothingNew,
    build_next_version,
    next_version_name,
    resolve_versions,
)
from mkd.data.splits import family_overlap
from mkd.storage import open_store
from mkd.store_layout import dataset_prefix
from rich.console import Console

from tests.mkd.lineage_data import as_feedback, gold_queries, make_parent, write_feedback


@pytest.fixture
def store(tmp_path):
    return open_store(f"file://{tmp_path / 'store'}")


@pytest.fixture
def cfg(store):
    return parse_config({"store": {"uri": store.uri}, "loop": {"new_test_fraction": 0.3}})


def read(store, version: str, name: str) -> list[dict]:
    data = store.get_bytes(dataset_prefix("finance", version) + name)
    return [json.loads(x) for x in data.splitlines() if x.strip()]


def test_next_version_keeps_the_benchmark_and_adds_feedback_as_new_families(store, cfg) -> None:
    groups = gold_queries()
    make_parent(store, groups[:20])
    entries = [e for g in groups[20:60] for e in as_feedback(g)]
    entries += as_feedback(groups[0])[:1]  # a query v1 already holds: skipped, counted
    entries += as_feedback(groups[20])[:1]  # the same answer again: a duplicate
    entries += [
        {"task": "query_classifier", "input": "What is Tesla's P/E?",
         "teacher_output": {"category": "NOT-A-CATEGORY"}},  # breaks the schema
        {"task": "no_such_task", "input": "hello", "teacher_output": {}},
        {"task": "query_classifier", "input": "Revenue of Nvidia?", "teacher_output": None},
        {"task": "query_classifier", "input": "Revenue of Nvidia?",
         "teacher_output": {"category": "LOOKUP"}},
        {"task": "query_classifier", "input": "revenue of NVIDIA",  # same query, other answer
         "teacher_output": {"category": "TREND"}},
    ]  # fmt: skip
    write_feedback(store, entries)

    parent, child = resolve_versions(cfg, store)
    assert (parent, child) == ("v1", "v2")
    manifest = build_next_version(cfg, store, parent, child, Console(quiet=True))

    v1 = dataset_prefix("finance", "v1")
    v2 = dataset_prefix("finance", "v2")
    assert store.get_bytes(v2 + "test.jsonl") == store.get_bytes(v1 + "test.jsonl")
    bench = manifest["benchmark"]
    assert bench["inherited"] and bench["origin"] == "finance/v1" and bench["from"] == "finance/v1"
    assert bench["sha256"] == manifest["files"]["test.jsonl"]["sha256"]
    assert manifest["parent"] == "finance/v1"

    parent_families = {r["family"] for s in ("train", "val", "test") for r in read(store, "v1", f"{s}.jsonl")}  # fmt: skip
    splits = {s: read(store, "v2", f"{s}.jsonl") for s in ("train", "val", "test", "test_new")}
    assert not family_overlap(splits)
    new = [r for s in splits.values() for r in s if r["family"] not in parent_families]
    assert {r["source"] for r in new} == {"feedback:shadow"}
    assert all(r not in splits["test"] for r in new)
    assert splits["test_new"] and all(r["family"].startswith("q-") for r in splits["test_new"])
    assert len(new) == 40 * 4 + 1  # 40 gold queries x 4 tasks, plus the first Nvidia answer
    # v1's train and val are kept
    for s in ("train", "val"):
        assert {r["id"] for r in read(store, "v1", f"{s}.jsonl")} <= {r["id"] for r in splits[s]}

    fb = manifest["feedback"]
    assert fb["skipped_in_parent"] == 1 and fb["duplicates"] == 1
    assert fb["quarantined"] == 4
    assert fb["quarantine_reasons"] == {"conflict": 1, "task": 1, "teacher_output": 2}
    reasons = [q["reason"] for q in read(store, "v2", "quarantine.jsonl")]
    assert any("schema" in r for r in reasons) and any("missing" in r for r in reasons)


def test_benchmark_never_changes_down_the_lineage(store, cfg) -> None:
    groups = gold_queries()
    make_parent(store, groups[:20])
    write_feedback(store, [e for g in groups[20:50] for e in as_feedback(g)])
    build_next_version(cfg, store, "v1", "v2", Console(quiet=True))
    v2_new = {r["id"] for r in read(store, "v2", "test_new.jsonl")}
    # nothing new since v2 read the log: v3 is v2 with last turn's new items in train/val
    parent, child = resolve_versions(cfg, store)
    assert (parent, child) == ("v2", "v3")
    with pytest.raises(NothingNew, match="0 new record"):  # loop.min_new_items: 1
        build_next_version(cfg, store, parent, child, Console(quiet=True))
    cfg.loop.min_new_items = 0
    manifest = build_next_version(cfg, store, parent, child, Console(quiet=True))
    assert manifest["feedback"]["entries"] == 0
    assert manifest["benchmark"]["origin"] == "finance/v1"
    first = store.get_bytes(dataset_prefix("finance", "v1") + "test.jsonl")
    assert store.get_bytes(dataset_prefix("finance", "v3") + "test.jsonl") == first
    assert read(store, "v3", "test_new.jsonl") == []
    trained = {r["id"] for s in ("train", "val") for r in read(store, "v3", f"{s}.jsonl")}
    assert v2_new <= trained


def test_a_changed_benchmark_is_refused(store, cfg) -> None:
    make_parent(store, gold_queries()[:10])
    key = dataset_prefix("finance", "v1") + "test.jsonl"
    store.put_bytes(key, store.get_bytes(key) + b'{"input": "x", "task": "query_classifier"}\n')
    with pytest.raises(RuntimeError, match="benchmark changed"):
        build_next_version(cfg, store, "v1", "v2", Console(quiet=True))


def test_version_names_follow_the_latest_rule(store, cfg) -> None:
    for v in ("v1", "v2", "v9"):
        store.put_json(
            f"datasets/finance/{v}/manifest.json", {"created_at": "2026-01-01T00:00:00Z"}
        )
    assert next_version_name(store, "finance", "v9") == "v10"
    assert resolve_versions(cfg, store) == ("v9", "v10")
    store.put_json("datasets/finance/v10/manifest.json", {"created_at": "2026-01-01T00:00:00Z"})
    assert resolve_versions(cfg, store) == ("v10", "v11")  # v10 is newer than v9, not older
    assert next_version_name(store, "finance", "v2") == "v11"  # never a taken number
    assert next_version_name(store, "finance", "base") == "base-2"
