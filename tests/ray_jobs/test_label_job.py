"""The labeling job on a real Ray cluster against the reference teacher over HTTP.

Kill test, fault test, bad inputs, and builds to a local path and to SeaweedFS S3.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mkd.config import load_config
from mkd.data.build import build_dataset, stage_augment, stage_label
from mkd.data.splits import family_overlap
from mkd.scoring import parse_prediction
from mkd.storage import open_store
from mkd.store_layout import work_prefix
from mkd.teachers.server import input_hash
from rich.console import Console

pytestmark = pytest.mark.integration
QUIET = Console(quiet=True)


def _cfg(store: str, url: str, curated: Path, ray_address: str, **teacher) -> dict:
    return {
        "store": {"uri": store},
        "teacher": {"base_url": url, "concurrency": 8, "backoff_base_s": 0.05, **teacher},
        "data": {
            "curated": str(curated),
            "version": "t1",
            "augment": {"variations_per_prompt": 2},
            "ray_address": ray_address,
            "batch_size": 16,
        },
    }


def _job(config: Path, env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "ray_jobs.label", "-c", str(config)],
        env=env,
        start_new_session=True,  # its own process group: SIGKILL reaches the driver only
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


@pytest.mark.slow
def test_kill_and_rerun_gives_the_same_dataset_without_relabeling(
    ray_cluster, teacher_server, curated_subset, write_config, tmp_path
):
    env = {**ray_cluster.env, "PYTHONPATH": str(Path.cwd())}
    url_a, _ = teacher_server()
    url_b, log_b = teacher_server(latency_ms=60)
    paths = {}
    for name, url in (("a", url_a), ("b", url_b)):
        data = _cfg(f"file://{tmp_path / name}", url, curated_subset, ray_cluster.address)
        paths[name] = write_config(name, data)
        cfg = load_config(paths[name])
        stage_augment(cfg, open_store(cfg.store), QUIET)

    job = _job(paths["a"], env)
    assert job.wait(timeout=400) == 0, job.stderr.read().decode()[-3000:]

    store_b = open_store(load_config(paths["b"]).store)
    job = _job(paths["b"], env)
    deadline = time.monotonic() + 300
    while len(store_b.list("label-cache/")) < 120:  # part-way: some labels cached, most not
        assert job.poll() is None and time.monotonic() < deadline, "job ended before the kill"
        time.sleep(0.2)
    os.killpg(job.pid, signal.SIGKILL)
    job.wait()
    cached_before = {
        input_hash(e["task"], e["input"], e["context"]["as_of"])
        for e in (store_b.get_json(k) for k in store_b.list("label-cache/"))
    }
    time.sleep(2)  # let in-flight requests of the dead job drain from the log
    log_mark = len(_lines(log_b))
    cfg_b = load_config(paths["b"])
    assert not store_b.exists(work_prefix(cfg_b.data.dataset, cfg_b.data.version) + "labeled.jsonl")

    job = _job(paths["b"], env)
    assert job.wait(timeout=400) == 0, job.stderr.read().decode()[-3000:]

    cfg_a = load_config(paths["a"])
    prefix = work_prefix(cfg_a.data.dataset, cfg_a.data.version)
    store_a = open_store(cfg_a.store)
    labeled_a, labeled_b = (s.get_bytes(prefix + "labeled.jsonl") for s in (store_a, store_b))
    assert labeled_a == labeled_b
    ids = [json.loads(x)["id"] for x in labeled_b.splitlines()]
    assert len(ids) == len(set(ids)) > 300
    rerun = {e["input_sha256"] for e in _lines(log_b)[log_mark:]}
    assert rerun and not (rerun & cached_before)
    report = store_b.get_json(prefix + "label_report.json")
    assert report["cached"] >= len(cached_before)


def test_faults_every_item_labeled_or_quarantined(
    ray_cluster, teacher_server, curated_subset, tmp_path, pack
):
    url, log = teacher_server(fail_rate=0.2, retry_after_s=0.1, hang_s=1.0, seed=5)
    data = _cfg(
        f"file://{tmp_path / 's'}",
        url,
        curated_subset,
        ray_cluster.address,
        timeout_s=0.5,
        max_retries=3,
    )
    data["data"]["augment"]["enabled"] = False
    from mkd.config import parse_config

    cfg = parse_config(data)
    store = open_store(cfg.store)
    stage_augment(cfg, store, QUIET)
    report = stage_label(cfg, store, QUIET)
    labeled = _lines(
        Path(store.uri.removeprefix("file://"))
        / work_prefix(cfg.data.dataset, cfg.data.version)
        / "labeled.jsonl"
    )
    quarantine = _lines(
        Path(store.uri.removeprefix("file://"))
        / work_prefix(cfg.data.dataset, cfg.data.version)
        / "quarantine.jsonl"
    )
    n_prompts = len(_lines(curated_subset))
    assert report["total"] == n_prompts * 4 == report["labeled"] + report["quarantined"]
    assert len(labeled) == report["labeled"] and len(quarantine) == report["quarantined"]
    assert all(q["reason"] for q in quarantine)
    assert all(parse_prediction(pack.task(r["task"]), r["output"])[1] is None for r in labeled)
    faults = {e["fault"] for e in _lines(log)}
    assert {"429", "500", "timeout", "malformed", "truncated"} <= faults


def test_bad_inputs_are_quarantined_with_clear_reasons(
    ray_cluster, teacher_server, tmp_path, write_config
):
    url, _ = teacher_server()
    curated = tmp_path / "bad.jsonl"
    lines = [
        json.dumps({"id": "ok", "input": "What was Apple's revenue in FY2023?"}).encode(),
        json.dumps({"id": "empty", "input": ""}).encode(),
        json.dumps({"id": "huge", "input": "revenue " * 12_800}).encode(),
        b'{"id": "utf", "input": "caf\xe9 revenue"}',
        json.dumps({"id": "task", "input": "What is EBITDA?", "task": "sentiment"}).encode(),
    ]
    curated.write_bytes(b"\n".join(lines) + b"\n")
    data = _cfg(f"file://{tmp_path / 's'}", url, curated, ray_cluster.address)
    data["data"]["augment"]["enabled"] = False
    config = write_config("bad", data)
    env = {**ray_cluster.env, "PYTHONPATH": str(Path.cwd())}
    mkd = str(Path(sys.executable).parent / "mkd")
    for stage in ("ray_jobs.augment", "ray_jobs.label"):
        subprocess.run(
            [sys.executable, "-m", stage, "-c", str(config)], env=env, check=True, timeout=300
        )
    cfg = load_config(config)
    store = open_store(cfg.store)
    quarantine = {
        q["id"]: q["reason"]
        for q in map(
            json.loads,
            store.get_bytes(
                work_prefix(cfg.data.dataset, cfg.data.version) + "quarantine.jsonl"
            ).splitlines(),
        )
    }
    assert quarantine["empty:query_classifier"] == "empty prompt"
    assert quarantine["huge:date_interpretation"].startswith("prompt too long: 102400 characters")
    assert any("invalid UTF-8" in r for r in quarantine.values())
    assert quarantine["task:sentiment"].startswith("unknown task 'sentiment'")
    labeled = store.get_bytes(
        work_prefix(cfg.data.dataset, cfg.data.version) + "labeled.jsonl"
    ).splitlines()
    assert {json.loads(x)["prompt_id"] for x in labeled} == {"ok"}
    bad_task = write_config("badtask", {**data, "tasks": ["sentiment"]})
    out = subprocess.run(
        [mkd, "label", "-c", str(bad_task)], env=env, capture_output=True, text=True
    )
    assert out.returncode == 2 and "tasks[0]: unknown task 'sentiment'" in out.stderr


def test_build_to_s3_and_local_path(
    ray_cluster, teacher_server, curated_subset, s3_server, s3_bucket, tmp_path, write_config, pack
):
    url, _ = teacher_server()
    data = _cfg(f"s3://{s3_bucket}/mkd", url, curated_subset, ray_cluster.address)
    data["store"]["s3"] = {
        "endpoint_url": s3_server.endpoint_url,
        "access_key_id": s3_server.access_key,
        "secret_access_key": s3_server.secret_key,
    }
    from mkd.config import parse_config

    cfg = parse_config(data)
    store = open_store(cfg.store)
    manifest = build_dataset(cfg, store, QUIET)
    assert set(manifest["counts"]["tasks"]) == set(pack.tasks)
    splits = {
        s: [json.loads(x) for x in store.get_bytes(f"datasets/finance/t1/{s}.jsonl").splitlines()]
        for s in ("train", "val", "test")
    }
    assert family_overlap(splits) == {}
    assert store.exists("datasets/finance/t1/manifest.json")

    local = write_config(
        "local", _cfg(f"file://{tmp_path / 'local'}", url, curated_subset, ray_cluster.address)
    )
    env = {**ray_cluster.env, "PYTHONPATH": str(Path.cwd())}
    mkd = str(Path(sys.executable).parent / "mkd")
    subprocess.run([mkd, "data", "build", "-c", str(local)], env=env, check=True, timeout=400)
    local_dir = tmp_path / "local" / "datasets" / "finance" / "t1"
    for s in ("train", "val", "test"):  # same data, same seed: identical to the S3 build
        assert (local_dir / f"{s}.jsonl").read_bytes() == store.get_bytes(
            f"datasets/finance/t1/{s}.jsonl"
        )
    out = subprocess.run(
        [mkd, "validate", str(local_dir / "train.jsonl")], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout[-2000:]
    again = subprocess.run(
        [mkd, "data", "build", "-c", str(local)], env=env, capture_output=True, text=True
    )
    assert again.returncode == 2 and "immutable" in again.stderr  # bad input: data.version
