"""`mkd loop` end to end: v1 + a registered version + feedback -> v2, warm-started candidate,
comparison report, no Serve address (the deploy step says how instead)."""

from __future__ import annotations

import pytest
import yaml
from mkd.registry import Registry
from mkd.storage import open_store
from mkd.store_layout import dataset_prefix

from tests.mkd.lineage_data import (
    as_feedback,
    gold_queries,
    make_parent,
    register_current,
    write_feedback,
)


@pytest.mark.integration
@pytest.mark.slow
def test_mkd_loop_end_to_end(ray_cluster, tiny_base, tmp_path, monkeypatch) -> None:
    from mkd.cli.main import app
    from typer.testing import CliRunner

    monkeypatch.setenv("MKD_CACHE_DIR", str(tmp_path / "cache"))
    store = open_store(f"file://{tmp_path / 'store'}")
    groups = gold_queries()
    make_parent(store, groups[:30])
    current = register_current(store, tiny_base, tmp_path)
    write_feedback(store, [e for g in groups[30:60] for e in as_feedback(g)])
    config = {
        "store": {"uri": store.uri},
        "teacher": {"backend": "reference"},
        "guards": {"enabled": False},
        "training": {"base_model": str(tiny_base), "max_steps": 2, "batch_size": 4,
                     "eval_every": 0, "eval_batches": 1, "checkpoint_every": 2, "log_every": 1,
                     "lora": {"r": 4, "alpha": 8}, "optimizer": {"warmup_steps": 1},
                     "ray_address": ray_cluster.address, "scaling": {"torch_threads": 1}},
        "evaluation": {"max_items_per_task": 2, "batch_size": 4, "max_new_tokens": 4,
                       "compare_base": False, "latency_probe_items": 0},
        "loop": {"new_test_fraction": 0.3},
    }  # fmt: skip
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(config))

    result = CliRunner().invoke(app, ["loop", "-c", str(path)])
    assert result.exit_code == 0, result.output
    assert "deploy skipped" in result.output

    v1, v2 = dataset_prefix("finance", "v1"), dataset_prefix("finance", "v2")
    assert store.get_bytes(v2 + "test.jsonl") == store.get_bytes(v1 + "test.jsonl")
    manifest = store.get_json(v2 + "manifest.json")
    assert manifest["parent"] == "finance/v1" and manifest["new_items"]["records"] > 0

    registry = Registry(store)
    candidate = registry.resolve("finance-student")
    assert candidate.version == 2 and candidate.stage in ("candidate", "rejected")
    assert candidate.manifest["dataset"] == "finance/v2"
    assert candidate.manifest["lineage"]["init_adapter"] == current
    run = store.get_json(f"runs/{candidate.manifest['training_run']}/manifest.json")
    assert run["init_adapter"]["ref"] == current

    prefix = "loops/finance/finance-v2/"
    report = store.get_json(prefix + "report.json")
    assert report["models"] == {"current": current, "candidate": candidate.ref}
    assert set(report["overall"]) == {"benchmark", "new"}
    for by_set in report["tasks"].values():
        for s in ("benchmark", "new"):
            if s in by_set:
                assert by_set[s]["current"]["count"] == by_set[s]["candidate"]["count"]
    assert store.exists(prefix + "report.md") and store.exists(prefix + "report.png")
    assert "v(N+1)" in store.get_bytes(prefix + "report.md").decode()

    # the turn finished: the next run is a new turn, and with no new feedback it stops
    again = CliRunner().invoke(app, ["loop", "-c", str(path)])
    assert again.exit_code == 0, again.output
    assert "nothing to do" in again.output
    assert not store.exists(dataset_prefix("finance", "v3") + "manifest.json")
