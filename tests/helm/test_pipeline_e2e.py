"""Issue 19: the chart's pipeline RayJob end to end, as KubeRay would run it, then killed and resumed.

Real: SeaweedFS (S3) on 127.0.0.1 as the store; the chart rendered by Helm's Go SDK (ci/cpu-dev.yaml
plus this test's values); a local Ray cluster started with the rendered head pod's environment and
volumes; the job submitted through Ray's Job Submission API with the rendered RayJob's
entrypoint, runtime env and entrypoint resources; every stage (augment off, label, review,
dataset, train, evaluate, export); the reference teacher behind the OpenAI-compatible HTTP server
(its request log counts the teacher calls).

Emulated: KubeRay and the kubelet only, by `RayJobOperator` (tests/helm/test_chart_e2e.py's
`KubeRay` for the pod: env, Secrets, volumes): every worker group runs on this one node, the image
is this checkout with this interpreter first on PATH (the image's `python`), paths under the
head's volume mounts (the entrypoint's `/config/pipeline.yaml`) point at their local dirs, and the
resubmitted job reuses the cluster (KubeRay would create a fresh one; the store is what carries
the state between them). The student is the tiny random Llama of the other pipeline tests; the
curated prompts are a 16-prompt subset uploaded to the store (`store://` keys need no image).
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from mkd.config.store import S3Settings, StoreConfig
from mkd.registry import Registry
from mkd.services.ports import free_ports
from mkd.services.ray_local import RayCluster, start_ray_cluster
from mkd.storage import Store, open_store

from tests.helm import test_chart_e2e as chart_e2e
from tests.helm.test_chart_e2e import KubeRay

pytestmark = [pytest.mark.pipeline_e2e, pytest.mark.integration, pytest.mark.slow]

PREFIX = "e2e"
DATASET = "e2e"
STATE = "pipelines/finance/state.json"
DATA_STAGES = ("augment", "label", "review", "dataset")
EVAL_ITEMS_PER_TASK = 2
# Gates a random tiny student can pass: this test is about the job, not the student's quality.
OPEN_GATE = {"min_agreement": 0.0, "min_agreement_lower_bound": 0.0, "min_items": 0,
             "max_violation_rate": 1.0}  # fmt: skip


def pipeline_values(curated_key: str, base_model: Path) -> dict[str, Any]:
    """`values.pipeline`: a small build, a few steps of the tiny student, the master variant."""
    return {
        "data": {"curated": f"store://{curated_key}", "dataset": DATASET,
                 "augment": {"enabled": False}, "actors": 1, "actor_num_cpus": 0.5,
                 "batch_size": 8, "review_sample_per_task": 1},
        "training": {"base_model": str(base_model), "dataset": "latest", "batch_size": 4,
                     "max_steps": 24, "checkpoint_every": 4, "eval_every": 0,
                     "eval_batches": 1, "log_every": 1, "lora": {"r": 4, "alpha": 8},
                     "optimizer": {"warmup_steps": 1}, "scaling": {"torch_threads": 1}},
        "evaluation": {"max_items_per_task": EVAL_ITEMS_PER_TASK, "base_fewshot": False, "compare_base": False,
                       "max_new_tokens": 8, "latency_probe_items": 0, "default_gate": OPEN_GATE},
        "export": {"variants": ["master"], "max_items_per_task": 2},
    }  # fmt: skip


def chart_values(s3_endpoint: str, bucket: str, teacher_url: str, pipeline: dict) -> dict:
    """Store and credentials as in the serving e2e test; the teacher is an OpenAI-compatible
    endpoint with no key; the pipeline RayJob on."""
    values = chart_e2e.chart_values(s3_endpoint, bucket, "")
    values["store"]["prefix"] = PREFIX
    values["teacher"] = {"backend": "openai", "endpoint": teacher_url, "model": "mkd-teacher",
                         "apiKeySecret": {"name": ""}}  # fmt: skip
    values["pipeline"] = pipeline
    values["jobs"] = {"pipeline": {"enabled": True}}
    return values


class RayJobOperator(KubeRay):
    """What KubeRay does with the pipeline RayJob, on one local node (see the module docstring)."""

    def __init__(self, objects: list[dict[str, Any]], volumes: Path) -> None:
        super().__init__(objects, volumes)
        self.job = next(
            o for o in objects
            if o["kind"] == "RayJob" and o["metadata"]["labels"]["mkd.io/stage"] == "pipeline"
        )  # fmt: skip

    def ray_cluster_spec(self) -> dict[str, Any]:
        return self.job["spec"]["rayClusterSpec"]

    def start(self) -> RayCluster:
        path = [str(chart_e2e.REPO / "platform"), str(chart_e2e.REPO)]
        image_path = [str(Path(sys.executable).parent), os.environ.get("PATH", "")]
        env = {**self.head_env(), "PYTHONPATH": os.pathsep.join(path),
               "PATH": os.pathsep.join(image_path)}  # fmt: skip
        self.cluster = start_ray_cluster(num_cpus=2, extra_env=env)
        return self.cluster

    def submit(self, client) -> str:
        """`ray job submit` as KubeRay's submitter runs it: the RayJob's entrypoint (paths
        under the head's mounts moved to their local dirs), runtime env, resources and a
        submission id of the RayJob's name plus a random suffix."""
        spec = self.job["spec"]
        entrypoint = " ".join(self.local_path(word) for word in spec["entrypoint"].split(" "))
        runtime_env = yaml.safe_load(spec["runtimeEnvYAML"]) if "runtimeEnvYAML" in spec else None
        return client.submit_job(
            entrypoint=entrypoint,
            submission_id=f"{self.job['metadata']['name']}-{secrets.token_hex(3)}",
            runtime_env=runtime_env,
            metadata=spec.get("metadata"),
            entrypoint_num_cpus=spec.get("entrypointNumCpus"),
            entrypoint_num_gpus=spec.get("entrypointNumGpus"),
            entrypoint_resources=spec.get("entrypointResources"),
        )


@pytest.fixture(scope="module")
def teacher(pack, tmp_path_factory) -> Iterator[tuple[str, Path]]:
    """(base URL, request log) of the reference teacher behind the OpenAI-compatible server."""
    from mkd.teachers.reference import ReferenceTeacher
    from mkd.teachers.server import BackgroundServer, TeacherServer

    log = tmp_path_factory.mktemp("teacher") / "requests.jsonl"
    server = TeacherServer(ReferenceTeacher(pack), pack, request_log=log)
    with BackgroundServer(server.app, free_ports(1)[0]) as background:
        yield background.url, log
    server.close()


@pytest.fixture(scope="module")
def store_bucket(s3_server, pack) -> Iterator[tuple[str, Store, str]]:
    """(bucket, its store at the chart's prefix, the curated subset's key): 16 curated prompts
    across the categories."""
    client = s3_server.client()
    bucket = f"mkd-pipe-{uuid.uuid4().hex[:8]}"
    client.create_bucket(Bucket=bucket)
    chart_e2e.SECRETS["mkd-s3"] = {
        "access-key": s3_server.access_key, "secret-key": s3_server.secret_key
    }  # fmt: skip
    store = open_store(StoreConfig(
        uri=f"s3://{bucket}/{PREFIX}",
        s3=S3Settings(endpoint_url=s3_server.endpoint_url, region="us-east-1",
                      access_key_id=s3_server.access_key, secret_access_key=s3_server.secret_key),
    ))  # fmt: skip
    lines = pack.data_file("data/curated.jsonl").read_text(encoding="utf-8").splitlines()
    key = "work/curated-e2e.jsonl"
    store.put_bytes(key, ("\n".join(lines[::30][:16]) + "\n").encode())
    yield bucket, store, key
    from tests.conftest import _delete_bucket

    _delete_bucket(client, bucket)


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory) -> Path:
    from mkd.training.tiny import build_tiny_student

    return build_tiny_student(tmp_path_factory.mktemp("tiny-base"))


@pytest.fixture(scope="module")
def operator(s3_server, store_bucket, teacher, tiny_base, tmp_path_factory):
    bucket, _, curated = store_bucket
    values = chart_values(
        s3_server.endpoint_url, bucket, teacher[0], pipeline_values(curated, tiny_base)
    )
    operator = RayJobOperator(chart_e2e.render(values), tmp_path_factory.mktemp("pod-volumes"))
    cluster = operator.start()
    try:
        yield operator
    finally:
        cluster.stop()


def _wait(predicate, timeout: float, what: str, client=None, job: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        if client and str(client.get_job_status(job)) in ("FAILED", "SUCCEEDED", "STOPPED"):
            raise AssertionError(f"job ended before {what}:\n{client.get_job_logs(job)[-4000:]}")
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def _checkpointed_run(store: Store) -> str | None:
    """The id of a training run with a checkpoint in the store, once there is one."""
    runs = {k.split("/")[1] for k in store.list("runs/") if "/checkpoint_" in k}
    return min(runs) if runs else None


def _teacher_calls(log: Path) -> int:
    return len(log.read_text().splitlines()) if log.exists() else 0


def test_the_chart_pipeline_job_runs_is_stopped_mid_training_and_resumes(
    operator, store_bucket, teacher, pack
):
    from mkd.jobs import client_for, wait_for_end

    _, store, _ = store_bucket
    client = client_for(operator.cluster.dashboard_url)
    config = Path(operator.local_path("/config/pipeline.yaml"))
    assert yaml.safe_load(config.read_text())["store"]["s3"]["endpoint_url"]  # from the values

    first = operator.submit(client)
    run_id = _wait(lambda: _checkpointed_run(store), 420, "a training checkpoint", client, first)
    client.stop_job(first)
    stopped = wait_for_end(client, first, timeout_s=120)
    assert stopped.status == "STOPPED", client.get_job_logs(first)[-4000:]
    before = store.get_json(STATE)
    assert set(before) == set(DATA_STAGES), before.keys()  # stopped while training ran
    calls = _teacher_calls(teacher[1])
    cached = sorted(store.list("label-cache/"))
    assert calls > 0 and cached

    second = operator.submit(client)
    outcome = wait_for_end(client, second, timeout_s=420)
    logs = client.get_job_logs(second)
    assert outcome.status == "SUCCEEDED", logs[-4000:]
    assert f"resuming interrupted run {run_id}" in logs

    after = store.get_json(STATE)
    for name in DATA_STAGES:  # reused: the same record (fingerprint, outputs, seconds)
        assert after[name] == before[name], name
    # Nothing relabeled: the only new teacher calls are evaluate's teacher column (its test items).
    evaluated = EVAL_ITEMS_PER_TASK * len(pack.tasks)
    assert _teacher_calls(teacher[1]) == calls + evaluated
    assert sorted(store.list("label-cache/")) == cached
    assert after["train"]["outputs"]["run_id"] == run_id  # the interrupted run, resumed
    assert [k for k in store.list("runs/") if k.endswith("/config.yaml")] == [
        f"runs/{run_id}/config.yaml"
    ]  # no second run was started

    versions = after["export"]["outputs"]["versions"]
    assert versions, after["export"]
    registry = Registry(store)
    for ref in [after["evaluate"]["outputs"]["version"], *versions]:
        manifest = registry.resolve(ref).manifest
        assert manifest["lineage"]["dataset"] == f"{DATASET}/v1", (ref, manifest["lineage"])
        assert manifest["lineage"]["run_id"] == run_id
    assert json.loads(store.get_bytes(f"datasets/{DATASET}/v1/manifest.json"))["counts"]
