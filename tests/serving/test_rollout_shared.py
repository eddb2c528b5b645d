"""One rollout state on a real local Ray cluster (issue 17, item 5): two Router replicas, a
registry version of the tiny student. A failing student is rolled back by the replica that sees
it and no replica routes to it soon after; the registry marks the version; a killed and restarted
replica still sees the rollback; a slow student is rolled back by the latency gate."""

from __future__ import annotations

import copy
import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.integration
TASK = "query_classifier"
QUERY = "Compare Amazon and Walmart net sales in India since 2023"
MODEL = "tiny-student"
POLL_S = 0.3


class TwoRouters:
    def __init__(self, served_app, store_uri: str) -> None:
        self.app = served_app
        self.store_uri = store_uri
        self.client = httpx.Client(
            base_url=served_app.base_url, headers=served_app.headers, timeout=60
        )

    def ask(self) -> str:
        r = self.client.post(f"/v1/tasks/{TASK}", json={"input": QUERY})
        assert r.status_code == 200, r.text
        return r.json()["route"]

    def statuses(self, want: int = 2, timeout: float = 120) -> dict[str, dict]:
        """/v1/rollout of each Router replica (keyed by replica id) until `want` of them
        answered, each status its latest of at least 20 reads."""
        seen: dict[str, dict] = {}
        deadline = time.monotonic() + timeout
        reads = 0
        while len(seen) < want or reads < 20:
            try:
                s = self.client.get("/v1/rollout").json()
                seen[s["router"]["replica"]] = s
                reads += 1
            except (httpx.HTTPError, KeyError, ValueError):
                pass  # a replica restarting
            if time.monotonic() > deadline:
                raise AssertionError(f"saw {len(seen)} router replicas, wanted {want}: {seen}")
            time.sleep(0.05)
        return seen

    def policy(self, **changes: object) -> dict:
        from mkd.serve.control import deployment_entry, mkd_app

        live = deployment_entry(mkd_app(self.app.config), "Router")["user_config"]
        return {**live["rollback"], **changes}


@pytest.fixture(scope="module")
def two_routers(served_app, tiny_student: Path, tmp_path_factory) -> Iterator[TwoRouters]:
    """The session's app redeployed with num_replicas=2 Routers and the tiny student served as
    a registry version (gates passed); the session's config back afterwards."""
    from mkd.registry import Registry
    from mkd.serve.control import deploy, deployment_entry, mkd_app, wait_running
    from mkd.storage import open_store

    store_uri = f"file://{tmp_path_factory.mktemp('registry')}/store"
    files = {
        f"master/{p.relative_to(tiny_student)}": p for p in tiny_student.rglob("*") if p.is_file()
    }
    Registry(open_store(store_uri)).register(
        MODEL, {"gates": {"passed": True, "failed": []}}, files
    )
    config = copy.deepcopy(served_app.config)
    entry = mkd_app(config)
    entry["args"]["student"].update(model_uri=None, version=f"{MODEL}:1")
    entry["args"]["store"] = {"uri": store_uri}
    entry["args"]["router"]["state_poll_s"] = POLL_S
    router = deployment_entry(entry, "Router")
    router["num_replicas"] = 2
    router["user_config"].update(mode="split", student_weight=1.0, mirror_fraction=0.0)
    deploy(served_app.cluster.dashboard_url, config)
    wait_running(served_app.cluster.dashboard_url, timeout=600)
    two = TwoRouters(served_app, store_uri)
    try:
        yield two
    finally:
        two.client.close()
        deploy(served_app.cluster.dashboard_url, served_app.config)
        wait_running(served_app.cluster.dashboard_url, timeout=600)


def test_a_failing_student_is_rolled_back_on_every_router_and_in_the_registry(two_routers):
    from mkd.registry import Registry
    from mkd.storage import open_store

    two = two_routers
    two.app.set_student(fault="none")
    before = two.statuses()
    assert all(not s["rolled_back"] for s in before.values()), before
    two.app.set_student(fault="error")
    two.app.wait_router(lambda s: s["student"].get("fault") == "error")
    routes = []
    while "teacher" not in routes:  # until one replica has rolled back
        routes.append(two.ask())
        assert len(routes) < 200, "never rolled back"
    assert set(routes[:-1]) == {"fallback"}
    time.sleep(3 * POLL_S)
    after = [two.ask() for _ in range(30)]
    assert set(after) == {"teacher"}, after
    seen = two.statuses()
    reasons = {s["rollback_reason"] for s in seen.values()}
    deciders = {s["rolled_back_by"] for s in seen.values()}
    assert all(s["rolled_back"] for s in seen.values()) and len(reasons) == 1, seen
    assert len(deciders) == 1 and deciders <= set(seen), "one replica decided for both"
    assert all(s["effective_weights"][TASK] == 0.0 for s in seen.values())
    (reason,) = reasons
    assert "error rate" in reason or "fallback rate" in reason
    registry = Registry(open_store(two.store_uri))
    deadline = time.monotonic() + 30
    while registry.get(MODEL, 1).rolled_back is None:
        assert time.monotonic() < deadline, "the registry was never marked"
        time.sleep(0.5)
    assert registry.get(MODEL, 1).rolled_back["reason"] == reason


def test_a_restarted_router_replica_still_sees_the_rollback(two_routers):
    two = two_routers
    two.app.set_student(fault="none")  # a new replica could only learn it from the shared state
    seen = two.statuses()
    assert all(s["rolled_back"] for s in seen.values()), "the previous test's rollback holds"
    victim_id, victim = sorted(seen.items())[0]
    reason = victim["rollback_reason"]
    os.kill(victim["router"]["pid"], signal.SIGKILL)
    deadline = time.monotonic() + 180
    fresh: dict = {}
    while not fresh:
        assert time.monotonic() < deadline, "Serve never replaced the killed replica"
        now = two.statuses(want=1, timeout=30)
        fresh = {k: v for k, v in now.items() if k not in seen}
        time.sleep(0.5)
    (status,) = fresh.values()
    assert status["rolled_back"] and status["rollback_reason"] == reason, status
    assert status["window"]["attempts"] == 0, "it did not decide it itself"
    assert victim_id not in two.statuses()


def test_a_slow_student_is_rolled_back_by_the_latency_gate(two_routers):
    import concurrent.futures as cf

    two = two_routers
    two.app.set_student(fault="slow", slow_s=1.0)
    policy = two.policy(max_p95_s=0.3, max_latency_ratio=2.0)
    two.app.set_router(rollback=policy, rollback_clear_id=uuid.uuid4().hex)
    two.app.wait_router(lambda s: not s["rolled_back"] and s["student"].get("fault") == "slow")
    deadline = time.monotonic() + 30
    while any(s["rolled_back"] for s in two.statuses().values()):
        assert time.monotonic() < deadline, "the clear never reached both replicas"
    with cf.ThreadPoolExecutor(10) as pool:
        routes = list(pool.map(lambda _: two.ask(), range(40)))
    assert "student" in routes, "the slow student answered (within student_timeout_s)"
    state = two.app.wait_router(lambda s: s["rolled_back"], timeout=60)
    assert "latency" in state["rollback_reason"], state
    assert all(s["rolled_back"] for s in two.statuses().values())
    two.app.set_student(fault="none", slow_s=30.0)
