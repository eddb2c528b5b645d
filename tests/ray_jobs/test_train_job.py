"""Training on Ray Train with checkpoints on SeaweedFS S3: a worker killed mid-run resumes."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest
from mkd.config import parse_config
from mkd.storage import open_store

FIXTURE = Path(__file__).parents[1] / "data" / "training"


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from mkd.training.tiny import build_tiny_student

    return build_tiny_student(tmp_path_factory.mktemp("tiny-student"))


def s3_config(s3_server, bucket: str, tiny_model: Path) -> dict:
    return {
        "store": {"uri": f"s3://{bucket}/mkd", "s3": {"endpoint_url": s3_server.endpoint_url,
                  "access_key_id": s3_server.access_key, "secret_access_key": s3_server.secret_key}},
        "training": {"base_model": str(tiny_model), "dataset": str(FIXTURE), "batch_size": 4,
                     "max_steps": 16, "checkpoint_every": 4, "eval_every": 4, "log_every": 2,
                     "keep_best_k": 2, "max_failures": 1, "eval_batches": 2,
                     "optimizer": {"warmup_steps": 2}, "scaling": {"torch_threads": 1}},
    }  # fmt: skip


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def registered_checkpoint(store) -> bool:
    """True once Ray Train's controller has recorded a checkpoint (its snapshot in S3 names it);
    an uploaded checkpoint directory alone may not be registered yet."""
    for key in store.list("runs/"):
        if key.endswith("/ray/checkpoint_manager_snapshot.json"):
            return json.loads(store.get_bytes(key)).get("latest_checkpoint_result") is not None
    return False


@pytest.mark.integration
@pytest.mark.slow
def test_killed_worker_resumes_from_s3_checkpoint(
    ray_cluster, s3_server, s3_bucket, tiny_model, tmp_path, monkeypatch
):
    from mkd.training.job import run_training

    cfg = parse_config(s3_config(s3_server, s3_bucket, tiny_model))
    store = open_store(cfg.store)
    pidfile = tmp_path / "worker.pid"
    monkeypatch.setenv("MKD_TRAIN_PIDFILE", str(pidfile))
    outcome: dict = {}

    def train() -> None:
        try:
            outcome["manifest"] = run_training(cfg, store, ray_address=ray_cluster.address)
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=train, daemon=True)
    thread.start()
    wait_for(lambda: pidfile.exists() and registered_checkpoint(store), 600, "a checkpoint in S3")
    killed_pid = int(pidfile.read_text())
    os.kill(killed_pid, signal.SIGKILL)  # the training worker process, mid-run
    thread.join(timeout=900)
    assert not thread.is_alive(), "training did not finish after the worker was killed"
    assert "error" not in outcome, outcome.get("error")
    manifest = outcome["manifest"]

    assert int(pidfile.read_text()) != killed_pid  # a fresh worker finished the run
    assert manifest["steps"] == 16
    resumed = manifest["resumed_from_steps"]
    assert len(resumed) == 1 and resumed[0] > 0 and resumed[0] % 4 == 0
    run = f"runs/{manifest['run_id']}"
    lines = [json.loads(x) for x in store.get_bytes(f"{run}/metrics.jsonl").decode().splitlines()]
    assert lines[-1]["step"] == 16 and "val_loss" in lines[-1]
    for key in ("adapter/adapter_model.safetensors", "adapter/adapter_config.json",
                "tokenizer/tokenizer.json", "config.yaml", "loss.png", "val_agreement.png", "manifest.json"):  # fmt: skip
        assert store.exists(f"{run}/{key}"), key
    # checkpoint directories only (Ray also keeps checkpoint_manager_snapshot.json there)
    checkpoints = {
        parts[3]
        for parts in (k.split("/") for k in store.list(f"{run}/ray/"))
        if len(parts) > 4 and parts[3].startswith("checkpoint_")
    }
    assert 1 <= len(checkpoints) <= 3  # best K by val loss, plus the latest
    assert manifest["base_model"]["sha256"] and manifest["dataset"]["sha256"]
    assert manifest["checkpoints"].startswith(f"s3://{s3_bucket}/")
