"""mkd.store_layout: every key in one place, and one rule for "latest" (by version number)."""

from __future__ import annotations

import ast
import datetime as dt
import re
from pathlib import Path

import pytest
from mkd import store_layout as layout
from mkd.evaluation.job import _latest as evaluation_latest
from mkd.registry import Registry
from mkd.storage import STORE_AREAS, open_store
from mkd.training.inputs import TrainingInputError, resolve_dataset

ROOT = Path(__file__).parents[2]
CODE_DIRS = [ROOT / "platform" / "mkd", ROOT / "serving", ROOT / "ray_jobs"]
LAYOUT_FILE = ROOT / "platform" / "mkd" / "store_layout.py"


def _build(store, version: str, created_at: str, finished: bool = True) -> None:
    store.put_bytes(layout.dataset_split("demo", version, "train"), b"")
    if finished:
        store.put_json(layout.dataset_manifest("demo", version), {"created_at": created_at})


def test_v10_is_latest_even_when_built_before_v9(tmp_path) -> None:
    store = open_store(f"file://{tmp_path}")
    _build(store, "v10", "2026-12-05T10:00:00Z")
    _build(store, "v9", "2026-12-05T11:00:00Z")
    _build(store, "v2", "2026-12-05T12:00:00Z")
    assert layout.finished_dataset_versions(store, "demo") == ["v2", "v9", "v10"]
    assert layout.latest_dataset_version(store, "demo") == "v10"


def test_training_and_evaluation_resolve_latest_to_the_same_version(tmp_path) -> None:
    from mkd.config import PipelineConfig

    store = open_store(f"file://{tmp_path}")
    _build(store, "v10", "2026-12-05T10:00:00Z")
    _build(store, "v9", "2026-12-05T11:00:00Z")
    assert resolve_dataset("latest", store, "demo").version == "v10"
    cfg = PipelineConfig.model_validate({"data": {"dataset": "demo"}})
    assert evaluation_latest(store, cfg) == "demo/v10"


def test_a_higher_number_wins_over_a_suffixed_lower_one(tmp_path) -> None:
    store = open_store(f"file://{tmp_path}")
    _build(store, "v3-hotfix", "2026-12-05T11:00:00Z")
    _build(store, "v10", "2026-12-05T10:00:00Z")
    _build(store, "v3", "2026-12-05T12:00:00Z")
    assert layout.finished_dataset_versions(store, "demo") == ["v3", "v3-hotfix", "v10"]


def test_an_unfinished_build_is_never_latest(tmp_path) -> None:
    store = open_store(f"file://{tmp_path}")
    _build(store, "v9", "2026-12-05T10:00:00Z")
    _build(store, "v10", "", finished=False)
    assert layout.latest_dataset_version(store, "demo") == "v9"


def test_another_dataset_sharing_the_name_stem_is_not_listed(tmp_path) -> None:
    store = open_store(f"file://{tmp_path}")
    _build(store, "v1", "2026-12-05T10:00:00Z")
    store.put_json(layout.dataset_manifest("demo2", "v5"), {})
    assert layout.finished_dataset_versions(store, "demo") == ["v1"]


def test_training_names_the_field_when_no_version_is_finished(tmp_path) -> None:
    store = open_store(f"file://{tmp_path}")
    _build(store, "v1", "", finished=False)
    with pytest.raises(TrainingInputError, match=r"training\.dataset: no finished dataset 'demo'"):
        resolve_dataset("latest", store, "demo")


def test_registry_version_10_is_newer_than_9(tmp_path) -> None:
    store = open_store(f"file://{tmp_path}")
    registry = Registry(store)
    for _ in range(10):
        registry.register("m", {"variant": "adapter"})
    assert layout.finished_registry_versions(store, "m") == list(range(1, 11))
    assert registry.resolve("m").version == 10
    assert layout.registry_names(store) == ["m"]


def test_the_run_finished_last_is_latest_and_an_interrupted_one_resumes(tmp_path) -> None:
    store = open_store(f"file://{tmp_path}")
    store.put_json(
        layout.run_manifest("p-20261205-100000-aaaaaa"), {"finished_at": "2026-12-05T12"}
    )
    store.put_json(
        layout.run_manifest("p-20261205-110000-bbbbbb"), {"finished_at": "2026-12-05T11"}
    )
    store.put_bytes(layout.run_config("p-20261205-120000-cccccc"), b"name: p\n")
    assert layout.latest_run(store) == "p-20261205-100000-aaaaaa"
    assert layout.latest_unfinished_run(store) == "p-20261205-120000-cccccc"


def test_no_run_names_the_runs_area(tmp_path) -> None:
    store = open_store(f"file://{tmp_path}")
    with pytest.raises(FileNotFoundError, match=r"no finished training run in file://.*/runs/"):
        layout.latest_run(store)
    assert layout.latest_unfinished_run(store) is None


def test_the_latest_evaluation_skips_export_reports(tmp_path) -> None:
    store = open_store(f"file://{tmp_path}")
    store.put_json(layout.eval_report("e1"), {"kind": "evaluation", "created_at": "2026-12-05T10"})
    store.put_json(layout.eval_report("e2"), {"kind": "evaluation", "created_at": "2026-12-05T11"})
    store.put_json(layout.eval_report("x3"), {"kind": "export", "created_at": "2026-12-05T12"})
    assert layout.latest_eval_id(store) == "e2"


def test_the_layout_declares_exactly_the_store_areas() -> None:
    assert {p.rstrip("/") for p in layout.AREA_PREFIXES} == set(STORE_AREAS)


@pytest.mark.parametrize(
    "key",
    [
        layout.dataset_split("finance", "v1", "test"),
        layout.label_cache_key("ab" * 32),
        layout.imports_prefix("finance", "v1"),
        layout.reviews_prefix("finance", "v1"),
        layout.base_model_key("cd" * 32, layout.MANIFEST),
        layout.run_key("r1", "adapter"),
        layout.eval_predictions("e1", "student"),
        layout.version_claim("finance-student", 3),
        layout.registry_stages("finance-student"),
        layout.pipeline_state("finance"),
        layout.feedback_key("finance", dt.datetime(2026, 12, 5, 10), "w1", 7),
        layout.loop_prefix("finance", "finance/v2"),
    ],
)
def test_every_key_starts_with_a_store_area(key) -> None:
    assert key.split("/", 1)[0] in STORE_AREAS


def test_keys_read_back_what_they_were_built_from() -> None:
    assert layout.label_cache_digest(layout.label_cache_key("ab12")) == "ab12"
    key = layout.feedback_key("finance", dt.datetime(2026, 12, 5, 10, 1, 2), "w1", 7)
    assert key == "feedback/finance/2026-12-05/100102-w1-000007.jsonl"
    assert layout.feedback_day(key) == dt.date(2026, 12, 5)
    assert layout.feedback_day("feedback/finance/not-a-day/x.jsonl") is None
    assert layout.dataset_ref_of(layout.dataset_prefix("finance", "v2")) == "finance/v2"
    assert layout.run_key("r1") == "runs/r1"


def _key_literals(path: Path) -> list[str]:
    """`line: text` of every string (or f-string) that starts with `AREA/`, docstrings aside."""
    areas = re.compile(rf"^({'|'.join(re.escape(a) for a in STORE_AREAS)})/")
    tree = ast.parse(path.read_text(), str(path))
    # docstrings, and the parts of f-strings (an f-string is judged by its start only)
    skipped = {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    } | {
        id(part)
        for node in ast.walk(tree)
        if isinstance(node, ast.JoinedStr)
        for part in node.values
    }
    found = []
    for node in ast.walk(tree):
        text = None
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = None if id(node) in skipped else node.value
        elif isinstance(node, ast.JoinedStr) and node.values:
            first = node.values[0]
            text = first.value if isinstance(first, ast.Constant) else None
        if text is not None and areas.match(text):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_no_store_key_is_built_outside_the_layout_module() -> None:
    """Like an import contract: a key literal of an area belongs in mkd.store_layout."""
    sources = [p for d in CODE_DIRS for p in sorted(d.rglob("*.py")) if p != LAYOUT_FILE]
    found = [hit for p in sources for hit in _key_literals(p)]
    assert not found, "store keys built outside mkd.store_layout:\n" + "\n".join(found)


def test_the_contract_check_sees_the_layout_module_s_own_keys() -> None:
    """The check above finds nothing because the keys moved, not because it is blind."""
    assert any("'runs/'" in hit for hit in _key_literals(LAYOUT_FILE))
