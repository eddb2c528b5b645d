"""Fixtures of the serving tests: a tiny random student on disk, the app deployed from
configs/serve.yaml through the dashboard's Serve REST API on the session's loopback cluster."""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# A ~/.ray/auth_token left by any local ray.init() switches `ray start` to token auth while
# drivers stay unauthenticated: keep this session's clusters on the pre-token behaviour.
os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("RAY_raylet_start_wait_time_s", "120")

REPO = Path(__file__).resolve().parents[2]
SERVE_YAML = REPO / "configs" / "serve.yaml"
TOKEN = "test-token-123"


@pytest.fixture(scope="session")
def tiny_student(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Llama and its BPE tokenizer, built once per session."""
    from serving.tiny import build_tiny_student

    return build_tiny_student(tmp_path_factory.mktemp("tiny-student"))


def app_config(port: int, student_dir: Path, **router: object) -> dict:
    """configs/serve.yaml with the tiny student, a free HTTP port, auth on, small windows."""
    from mkd.serve.control import deployment_entry, load_serve_config, mkd_app, with_http_port

    config = with_http_port(load_serve_config(SERVE_YAML), port)
    app = mkd_app(config)
    args = app["args"]
    args["student"].update(model_uri=str(student_dir), max_batch_size=16)
    args["router"] = {
        "ray_actor_options": {
            "num_cpus": 0.1,
            "runtime_env": {"env_vars": {"MKD_SERVE_TOKEN": TOKEN}},
        }
    }
    args["limits"]["required_context"] = []
    # The tiny random student invents entity names that the output guard rightly blocks, which
    # would turn every student answer into a fallback; the router's guard path is tested with
    # fakes in test_router_guards.py and the chain itself in tests/mkd/guards.
    args["guards"] = {"enabled": False}
    live = deployment_entry(app, "Router")["user_config"]
    live.update({"mode": "split", "student_weight": 0.0, "mirror_fraction": 0.0})
    live["rollback"].update(window=20, min_samples=10)
    live.update(router)
    return copy.deepcopy(config)


class ServedApp:
    """The running app: base URL, auth headers, and the dashboard for live updates."""

    def __init__(self, cluster, config: dict) -> None:
        self.cluster = cluster
        self.config = config
        self.base_url = f"http://127.0.0.1:{cluster.serve_http_port}"
        self.headers = {"Authorization": f"Bearer {TOKEN}"}

    def set_router(self, **changes: object) -> None:
        from mkd.serve.control import update_live_config

        update_live_config(self.cluster.dashboard_url, "Router", changes)

    def set_student(self, **changes: object) -> None:
        from mkd.serve.control import update_live_config

        update_live_config(self.cluster.dashboard_url, "Student", changes)

    def clear_rollback(self) -> None:
        """Lift a rollback an earlier test left in force: only a new rollback_clear_id does
        (what `mkd rollout clear` sends); the student healthy first."""
        import uuid

        self.set_student(fault="none")
        if self.rollout()["rolled_back"]:
            self.set_router(rollback_clear_id=uuid.uuid4().hex)
            self.wait_router(lambda s: not s["rolled_back"])

    def rollout(self) -> dict:
        import httpx

        return httpx.get(self.base_url + "/v1/rollout", headers=self.headers, timeout=30).json()

    def wait_router(self, predicate, timeout: float = 60) -> dict:
        """Poll /v1/rollout until `predicate(status)` holds (a live reconfigure has landed)."""
        import time

        deadline = time.monotonic() + timeout
        while True:
            state = self.rollout()
            if predicate(state):
                return state
            if time.monotonic() > deadline:
                raise AssertionError(f"router state never matched: {state}")
            time.sleep(0.3)


@pytest.fixture(scope="session")
def served_app(ray_cluster, tiny_student: Path) -> Iterator[ServedApp]:
    """The MKD app on the session cluster (deployed once; tests steer it through user_config)."""
    from mkd.serve.control import deploy, shutdown, wait_running

    config = app_config(ray_cluster.serve_http_port, tiny_student)
    deploy(ray_cluster.dashboard_url, config)
    wait_running(ray_cluster.dashboard_url, timeout=600)
    yield ServedApp(ray_cluster, config)
    shutdown(ray_cluster.dashboard_url)
