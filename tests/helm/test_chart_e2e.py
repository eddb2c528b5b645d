"""Issue 17: the chart's serving path end to end, as KubeRay would run it.

Real: SeaweedFS (S3) on 127.0.0.1 holding a registry with a tiny random student whose gates
passed (finance-student:1) and the same files registered with failed gates (:2); the chart
rendered by Helm's Go SDK; a local Ray cluster started with the rendered head pod's environment;
the app built by Serve from the rendered serveConfigV2; the reference teacher.

Emulated: KubeRay (and the kubelet) only, by `KubeRay` below:
  - the head pod's `env` becomes the environment of `ray start --head` (which every Ray process
    inherits): `secretKeyRef`s are read from `SECRETS`, standing for the namespace's Secrets,
    and paths under the pod's volume mounts point at temp dirs standing for the volumes (the
    ConfigMap's files written into its own);
  - every worker group runs on that one node (on a cluster they are separate pods);
  - the image holds the project: here the checkout goes on the workers' PYTHONPATH, so that the
    rendered import_path (serving.app:build_app) imports this tree;
  - `serveConfigV2` (YAML) is PUT as JSON to the dashboard's `PUT /api/serve/applications/`, as
    KubeRay does on each change of the string; only `http_options` is moved from the pod's
    0.0.0.0:8000 to a free loopback port (this machine is shared).
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from mkd import metrics
from mkd.config.store import S3Settings, StoreConfig
from mkd.k8s.render import load_values
from mkd.registry import Registry
from mkd.serve.control import (
    ServeControlError,
    deploy,
    failure_report,
    shutdown,
    status,
    with_http_port,
)
from mkd.services.ray_local import RayCluster, start_ray_cluster
from mkd.storage import open_store

from tests.helm.conftest import CHART, objects_of
from tests.serving.ray_metrics import wait_for_series, wait_for_value

pytestmark = [pytest.mark.chart_e2e, pytest.mark.integration]

REPO = Path(__file__).resolve().parents[2]
APP = "mkd"
PASSED, FAILED = "finance-student:1", "finance-student:2"
FAILED_GATES = ["date_interpretation/agreement", "entity_extractor/items"]
TASK = "query_classifier"
# The Secrets the pods' secretKeyRefs name (a test-only S3 key of the session's SeaweedFS).
SECRETS: dict[str, dict[str, str]] = {}


def chart_values(s3_endpoint: str, bucket: str, version: str) -> dict[str, Any]:
    """ci/cpu-dev.yaml's overrides for this test: the store at the test bucket, credentials from
    a Secret through ray.extraEnv (never in values), the reference teacher (no key), split mode
    with every request on the student."""
    return {
        "store": {"bucket": bucket, "prefix": "e2e", "region": "us-east-1",
                  "endpointUrl": s3_endpoint},
        "teacher": {"backend": "reference", "apiKeySecret": {"name": ""}},
        "ray": {"extraEnv": [
            {"name": "AWS_ACCESS_KEY_ID",
             "valueFrom": {"secretKeyRef": {"name": "mkd-s3", "key": "access-key"}}},
            {"name": "AWS_SECRET_ACCESS_KEY",
             "valueFrom": {"secretKeyRef": {"name": "mkd-s3", "key": "secret-key"}}},
        ]},
        "serving": {
            # The bursts below send 16 requests at once: a pending cap below that would shed
            # some to the teacher (tests/serving/test_shedding.py covers shedding).
            "student": {"version": version, "maxPendingAnswers": 16},
            # The tiny student's random answers never agree with the teacher (the agreement gate
            # would roll it back: tests/serving covers rollback) and invent entity names that the
            # output guard rightly blocks (as tests/serving/conftest.py does).
            "rollout": {"mode": "split", "student_weight": 1.0, "mirror_fraction": 0.0},
            "extraArgs": {"guards": {"enabled": False}},
        },
    }  # fmt: skip


def render(values: dict[str, Any], sets: list[str] = ()) -> list[dict[str, Any]]:
    """`helm template -f ci/cpu-dev.yaml -f <values> --set ...`, every object."""
    from mkd.config.loader import deep_merge
    from mkd.k8s.render import render_chart

    merged = deep_merge(load_values([CHART / "ci" / "cpu-dev.yaml"]), values)
    merged = deep_merge(merged, load_values([], list(sets)))
    return objects_of(render_chart(merged, chart=CHART, release="mkd", namespace="mkd-e2e"))


def rayservice_of(objects: list[dict[str, Any]]) -> dict[str, Any]:
    return next(o for o in objects if o["kind"] == "RayService")


class KubeRay:
    """What the operator does with the RayService, on one local node (see the module docstring)."""

    def __init__(self, objects: list[dict[str, Any]], volumes: Path) -> None:
        self.objects = objects
        self.volumes = volumes
        self.cluster: RayCluster | None = None
        self.serve_port = 0

    def ray_cluster_spec(self) -> dict[str, Any]:
        """The Ray cluster KubeRay creates (a RayJob's emulation overrides this)."""
        return rayservice_of(self.objects)["spec"]["rayClusterConfig"]

    def head_container(self) -> dict[str, Any]:
        pod = self.ray_cluster_spec()["headGroupSpec"]["template"]["spec"]
        (head,) = [c for c in pod["containers"] if c["name"] == "ray-head"]
        return head

    def local_path(self, value: str) -> str:
        """`value` with a path under one of the head's volume mounts moved to its local dir."""
        for mount in self.head_container()["volumeMounts"]:
            path, local = mount["mountPath"], self.volumes / mount["name"]
            if value == path or value.startswith(path + "/"):
                return str(local) + value[len(path) :]
        return value

    def head_env(self) -> dict[str, str]:
        """The head container's env: Secrets resolved, volume paths mapped to local dirs."""
        pod = self.ray_cluster_spec()["headGroupSpec"]["template"]["spec"]
        head = self.head_container()
        configmaps = {o["metadata"]["name"]: o for o in self.objects if o["kind"] == "ConfigMap"}
        for volume in pod["volumes"]:
            local = self.volumes / volume["name"]
            local.mkdir(parents=True, exist_ok=True)
            if "configMap" in volume:
                for name, text in configmaps[volume["configMap"]["name"]]["data"].items():
                    (local / name).write_text(text)
        env = {}
        for var in head["env"]:
            if "valueFrom" in var:
                ref = var["valueFrom"]["secretKeyRef"]
                value = SECRETS[ref["name"]][ref["key"]]
            else:
                value = self.local_path(str(var["value"]))
            env[var["name"]] = value
        return env

    def start(self) -> RayCluster:
        # The image holds the project; here this checkout (platform/ for mkd, the root for
        # serving) stands in for it.
        path = [str(REPO / "platform"), str(REPO), os.environ.get("PYTHONPATH", "")]
        env = {**self.head_env(), "PYTHONPATH": os.pathsep.join(p for p in path if p)}
        self.cluster = start_ray_cluster(num_cpus=2, extra_env=env)
        self.serve_port = self.cluster.serve_http_port
        return self.cluster

    def apply(self, objects: list[dict[str, Any]]) -> dict[str, Any]:
        """PUT the RayService's serveConfigV2 (a changed string is what KubeRay applies)."""
        config = yaml.safe_load(rayservice_of(objects)["spec"]["serveConfigV2"])
        assert config["http_options"] == {"host": "0.0.0.0", "port": 8000}
        config = with_http_port(config, self.serve_port)
        # the dashboard answers the PUT once Serve's controller took the config: on a loaded
        # 2-core machine that took over the client's default 30 s once
        deploy(self.cluster.dashboard_url, config, timeout=120)
        return config


def wait_app(dashboard: str, until: set[str], timeout: float = 300) -> dict[str, Any]:
    """The app's status once it is in one of `until` (RUNNING, DEPLOY_FAILED...)."""
    deadline = time.monotonic() + timeout
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        try:
            last = status(dashboard).get("applications", {}).get(APP, {})
        except (httpx.HTTPError, ServeControlError):
            last = {}
        if last.get("status") in until:
            return last
        time.sleep(0.5)
    raise AssertionError(f"app never reached {until}: {failure_report(last)}")


def replica_pids(dashboard: str) -> dict[str, list[tuple[str, int]]]:
    """deployment -> [(replica id, pid)], from the Serve REST API."""
    deployments = status(dashboard)["applications"][APP]["deployments"]
    return {
        name: sorted((r["replica_id"], r["pid"]) for r in dep["replicas"])
        for name, dep in deployments.items()
    }


@pytest.fixture(scope="module")
def bucket(s3_server, tmp_path_factory) -> Iterator[str]:
    """A bucket whose registry holds the tiny student twice: :1 gates passed, :2 gates failed."""
    from serving.tiny import build_tiny_student

    client = s3_server.client()
    name = f"mkd-e2e-{uuid.uuid4().hex[:8]}"
    client.create_bucket(Bucket=name)
    SECRETS["mkd-s3"] = {"access-key": s3_server.access_key, "secret-key": s3_server.secret_key}
    store = StoreConfig(
        uri=f"s3://{name}/e2e",
        s3=S3Settings(endpoint_url=s3_server.endpoint_url, region="us-east-1",
                      access_key_id=s3_server.access_key, secret_access_key=s3_server.secret_key),
    )  # fmt: skip
    student = build_tiny_student(tmp_path_factory.mktemp("tiny-student"))
    files = {f"master/{p.name}": p for p in student.iterdir() if p.is_file()}
    registry = Registry(open_store(store))
    registry.register("finance-student", {"gates": {"passed": True, "failed": []}}, files=files)
    registry.register(
        "finance-student", {"gates": {"passed": False, "failed": FAILED_GATES}},
        files=files, stage="rejected",
    )  # fmt: skip
    yield name
    from tests.conftest import _delete_bucket

    _delete_bucket(client, name)


@pytest.fixture(scope="module")
def kuberay(s3_server, bucket, tmp_path_factory) -> Iterator[KubeRay]:
    """The chart at finance-student:1, its Ray head started, its serveConfigV2 applied."""
    objects = render(chart_values(s3_server.endpoint_url, bucket, PASSED))
    operator = KubeRay(objects, tmp_path_factory.mktemp("pod-volumes"))
    cluster = operator.start()
    try:
        operator.apply(objects)
        wait_app(cluster.dashboard_url, {"RUNNING", "DEPLOY_FAILED"}, timeout=180)
        yield operator
    finally:
        try:
            shutdown(cluster.dashboard_url)
        finally:
            cluster.stop()


def _client(operator: KubeRay) -> httpx.Client:
    return httpx.Client(base_url=f"http://127.0.0.1:{operator.serve_port}", timeout=60)


def test_the_rendered_app_answers_from_the_registry_version(kuberay):
    app = status(kuberay.cluster.dashboard_url)["applications"][APP]
    assert app["status"] == "RUNNING", failure_report(app)
    with _client(kuberay) as client:
        r = client.post(f"/v1/tasks/{TASK}", json={"input": "Top banks by total assets"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["route"], body["version"], body["model"]) == ("student", PASSED, "mkd-student")
        r = client.post("/v1/analyze", json={"input": "Apple revenue in EUR for FY2023"})
        assert r.status_code == 200, r.text
        results = r.json()["results"]
        assert len(results) == 4
        assert {(x["route"], x["version"]) for x in results.values()} == {("student", PASSED)}
        rollout = client.get("/v1/rollout").json()
    assert (
        rollout["student"]["version"] == PASSED and rollout["student"]["backend"] == "transformers"
    )


async def _burst(base_url: str, n: int, concurrency: int = 16) -> list[httpx.Response]:
    gate = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:

        async def one(i: int) -> httpx.Response:
            async with gate:
                return await client.post(f"/v1/tasks/{TASK}", json={"input": f"Bank assets #{i}"})

        return await asyncio.gather(*(one(i) for i in range(n)))


def test_a_rerender_at_weight_025_moves_a_quarter_in_place(kuberay, s3_server, bucket):
    dashboard = kuberay.cluster.dashboard_url
    before = replica_pids(dashboard)
    assert set(before) == {"Router", "Student", "Teacher"}
    values = chart_values(s3_server.endpoint_url, bucket, PASSED)
    objects = render(values, ["serving.rollout.student_weight=0.25"])
    config = kuberay.apply(objects)
    router = next(d for d in config["applications"][0]["deployments"] if d["name"] == "Router")
    assert router["user_config"]["student_weight"] == 0.25
    deadline = time.monotonic() + 60
    with _client(kuberay) as client:
        while (state := client.get("/v1/rollout").json())["student_weight"] != 0.25:
            assert time.monotonic() < deadline, state
            time.sleep(0.3)
    assert wait_app(dashboard, {"RUNNING"})["status"] == "RUNNING"

    responses = asyncio.run(_burst(f"http://127.0.0.1:{kuberay.serve_port}", 400))
    bad = [r.text for r in responses if r.status_code != 200]
    assert not bad, bad[:3]
    routes = Counter(r.json()["route"] for r in responses)
    assert set(routes) <= {"student", "teacher"}, routes  # no fallback: 0 student errors
    assert 0.15 <= routes["student"] / len(responses) <= 0.35, routes
    assert replica_pids(dashboard) == before  # reconfigured in place: the same replicas


def test_ray_metrics_port_exports_the_apps_series_per_deployment(kuberay):
    with _client(kuberay) as client:
        assert client.post(f"/v1/tasks/{TASK}", json={"input": "Bank assets"}).status_code == 200
    wanted = {
        metrics.REQUESTS.exported: "Router",
        metrics.WEIGHT.exported: "Router",
        metrics.STUDENT_BATCH_SIZE.exported + "_count": "Student",
    }
    port = kuberay.cluster.metrics_export_port
    wait_for_series(port, wanted)
    # the previous test re-rendered at weight 0.25; the export lags the reconfigure by one
    # report interval, so a first read may still show 1.0
    router = {"deployment": "Router", "task": TASK}
    assert wait_for_value(port, metrics.WEIGHT.exported, router, 0.25)


def test_the_loops_shadow_deploy_puts_a_rejected_candidate_beside_the_teacher(kuberay):
    """mkd loop's deploy step against the running app (issue 21): the candidate (here the version
    whose gates failed: shadow takes any) replaces the student, the teacher answers every
    request and the student is scored beside it."""
    from mkd.pipeline.rollout import deploy_shadow

    dashboard = kuberay.cluster.dashboard_url
    live = deploy_shadow(dashboard, FAILED, APP, timeout=240)
    assert (live["mode"], live["student_weight"]) == ("shadow", 0.0)
    assert wait_app(dashboard, {"RUNNING"})["status"] == "RUNNING"
    with _client(kuberay) as client:
        deadline = time.monotonic() + 120
        while (state := client.get("/v1/rollout").json())["student"]["version"] != FAILED:
            assert time.monotonic() < deadline, state
            time.sleep(0.5)
        assert state["mode"] == "shadow", state
        for i in range(6):
            r = client.post(f"/v1/tasks/{TASK}", json={"input": f"Top banks by assets #{i}"})
            assert r.status_code == 200, r.text
            assert r.json()["route"] == "teacher", r.json()
        # the student answered beside the teacher and was scored (on one Router replica or more)
        while not client.get("/v1/rollout").json()["window"]["agreement_samples"]:
            assert time.monotonic() < deadline + 60, "no shadow comparison was scored"
            time.sleep(0.5)


def test_a_render_at_a_version_whose_gates_failed_is_refused_at_deploy(kuberay, s3_server, bucket):
    values = chart_values(s3_server.endpoint_url, bucket, FAILED)
    kuberay.apply(render(values, ["serving.rollout.student_weight=0.25"]))
    app = wait_app(kuberay.cluster.dashboard_url, {"DEPLOY_FAILED"}, timeout=240)
    report = failure_report(app)
    assert f"{FAILED} failed its gates: {', '.join(FAILED_GATES)}" in report, report
    assert "serving.student.allowUnpromoted" in report
