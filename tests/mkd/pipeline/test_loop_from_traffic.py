"""Issue 21's loop from real traffic: a deliberately weak student (finance-student:1, an untrained
LoRA on a tiny base) serves in shadow on a local Ray cluster with capture on; the Router writes the
teacher's answers to the feedback log in S3 (SeaweedFS); `mkd loop` builds v2 from them, warm-starts
training from :1 and compares both on the held-out new items (printed: on a tiny model that margin
is noise) and on the captured queries v2 trained on (asserted: v2 agrees more; docs/loop.md)."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
import yaml
from mkd.config.store import StoreConfig
from mkd.feedback import read_feedback
from mkd.storage import open_store

from tests.mkd.lineage_data import gold_queries, make_parent, register_current
from tests.serving.conftest import TOKEN, app_config

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PARENT, TRAFFIC = 30, 100  # gold queries in v1; queries sent through the app


@pytest.fixture(scope="module")
def learnable_base(tmp_path_factory):
    """A tiny base a short LoRA run can move (serving.tiny's 600-token vocabulary, init std 0.3):
    the pipeline's tiny base (49k-token vocabulary, std 0.02) caps every logit near +-1."""
    from serving.tiny import build_tiny_student

    return build_tiny_student(tmp_path_factory.mktemp("learnable-base"), init_std=0.3)


def store_config(s3_server, bucket: str) -> dict[str, Any]:
    s3 = {"endpoint_url": s3_server.endpoint_url, "access_key_id": s3_server.access_key,
          "secret_access_key": s3_server.secret_key}  # fmt: skip
    return {"uri": f"s3://{bucket}/loop", "s3": s3}


def shadow_app(port: int, tiny_base, version: str, store: dict[str, Any]) -> dict:
    """configs/serve.yaml with :1 from the registry in shadow and capture on."""
    from mkd.serve.control import deployment_entry, mkd_app
    from mkd.serve.release_gate import mark_shadow_only

    config = app_config(
        port, tiny_base, mode="shadow", student_weight=0.0, shadow_concurrency=4 * TRAFFIC
    )
    app = mkd_app(config)
    app["args"]["student"].update(version=version, model_uri=None, max_batch_size=8)
    app["args"]["store"] = store
    app["args"]["capture"] = {"enabled": True, "sample_rate": 1.0, "flush_interval_s": 0.2}
    deployment_entry(app, "Router")["user_config"]["rollback"]["enabled"] = False
    assert not mark_shadow_only(app)  # what `mkd serve` and the chart do: any version in shadow
    return config


def send_traffic(base_url: str, groups: list[list[dict]]) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=120) as client:
        for group in groups:
            body = {"input": group[0]["input"], "context": group[0]["context"]}
            r = client.post("/v1/analyze", json=body)
            assert r.status_code == 200, r.text
            assert {x["route"] for x in r.json()["results"].values()} == {"teacher"}


def wait_feedback(store, wanted: int, timeout: float = 240) -> list[dict]:
    """The shadow comparisons finish after the responses, and the writer flushes in batches."""
    deadline = time.monotonic() + timeout
    while len(rows := read_feedback(store, "finance")) < wanted:
        assert time.monotonic() < deadline, f"{len(rows)} of {wanted} feedback rows"
        time.sleep(1)
    return rows


def loop_config(store: dict[str, Any], tiny_base, ray_address: str) -> dict[str, Any]:
    return {
        "store": store,
        "teacher": {"backend": "reference"},
        "guards": {"enabled": False},
        "training": {"base_model": str(tiny_base), "max_steps": 600, "batch_size": 8,
                     "eval_every": 0, "eval_batches": 1, "checkpoint_every": 600, "log_every": 10,
                     "lora": {"r": 4, "alpha": 8}, "optimizer": {"lr": 0.01, "warmup_steps": 5},
                     "ray_address": ray_address, "scaling": {"torch_threads": 1}},
        "evaluation": {"max_items_per_task": 20, "batch_size": 8, "max_new_tokens": 48,
                       "compare_base": False, "latency_probe_items": 0},
        "loop": {"new_test_fraction": 0.5},
    }  # fmt: skip


def captured_agreement(config_path, report: dict, ref: str) -> float:
    from mkd.config import load_config
    from mkd.pipeline.loop import _eval_on

    cfg = load_config(config_path)
    cfg.evaluation.dataset = report["dataset"]
    return _eval_on(cfg, ref, "train")["overall"]["agreement"]


def test_shadow_feedback_becomes_v2_and_a_warm_started_candidate_compared_on_it(
    ray_cluster, s3_server, s3_bucket, learnable_base, tmp_path, monkeypatch
) -> None:
    from mkd.cli.main import app
    from mkd.serve.control import deploy, shutdown, wait_running
    from typer.testing import CliRunner

    monkeypatch.setenv("MKD_CACHE_DIR", str(tmp_path / "cache"))
    store_cfg = store_config(s3_server, s3_bucket)
    store = open_store(StoreConfig.model_validate(store_cfg))
    groups = gold_queries()
    make_parent(store, groups[:PARENT])
    current = register_current(store, learnable_base, tmp_path, random_weights=False)

    config = shadow_app(ray_cluster.serve_http_port, learnable_base, current, store_cfg)
    deploy(ray_cluster.dashboard_url, config)
    try:
        wait_running(ray_cluster.dashboard_url, timeout=600)
        send_traffic(f"http://127.0.0.1:{ray_cluster.serve_http_port}", groups[PARENT:][:TRAFFIC])
        rows = wait_feedback(store, wanted=4 * TRAFFIC)
    finally:
        shutdown(ray_cluster.dashboard_url)
    assert {r["source"] for r in rows} == {"shadow"}
    # None: the Student was full and shed its side of the shadow call; the teacher's answer is
    # still a label for the loop
    assert {r["student_version"] for r in rows} - {None} == {current}

    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(loop_config(store_cfg, learnable_base, ray_cluster.address)))
    result = CliRunner().invoke(app, ["loop", "-c", str(path)])
    assert result.exit_code == 0, result.output

    report = store.get_json("loops/finance/finance-v2/report.json")
    new = report["overall"]["new"]
    print(f"agreement on the new items: {current} {new['current']:.3f} -> "
          f"candidate {new['candidate']:.3f} (+{new['delta']:.3f}), "
          f"{new['items']['candidate']} items")  # fmt: skip
    for task, sets in sorted(report["tasks"].items()):
        cells = sets.get("new", {})
        print(task, {r: (cells.get(r) or {}).get("score") for r in ("current", "candidate")})
    # The captured traffic became v2's new items, the candidate was warm-started from :1 and
    # trained on v2, and both versions were scored on the same items. Whether a tiny model then
    # agrees more on queries it never saw is noise (docs/loop.md); the margin on a real student
    # is measured by `mkd demo --loop`.
    assert report["warm_start"] == current and report["models"]["current"] == current
    assert report["new_items"] and report["feedback"], report
    assert new["items"]["current"] == new["items"]["candidate"] > 0

    # "Those queries": the captured traffic v2 trained on (its train split), both versions
    # scored on the same items against the teacher's captured answers. Measured +0.13, +0.20
    # and +0.14 (2026-12-07, docs/loop.md); 0.05 leaves room for the run-to-run spread.
    seen = {role: captured_agreement(path, report, ref) for role, ref in report["models"].items()}
    print(f"agreement on the captured queries (v2's train split): {seen}")
    assert seen["candidate"] > seen["current"] + 0.05, seen
