"""With the Student's queue full, the whole app sheds to the teacher and counts it (real Serve).

The app is the real one (`compose_app`: Router, Student, Teacher) on the session's Ray cluster;
only the model is left out: the Student runs a slow fake engine passed as `engine_cls` (no model
can decode on cue here). The Student takes one request at a time and Serve lets one more wait
(max_ongoing_requests 1, max_queued_requests 1), and the Router's own cap is lifted, so the
requests past those two are refused by Serve's back-pressure, as a real overloaded Student is.
The Router's own cap is tested in-process (test_shedding.py).
"""

from __future__ import annotations

import asyncio
import sys
import time

import httpx
import pytest
from mkd.inference import EngineItem, EngineOutput, EngineSpec
from mkd.tasks import TaskPack

from serving.app import compose_app

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TASK = "query_classifier"
DECODE_S = 1.5  # long enough that the concurrent requests below all arrive while it decodes
PREFIX = "/shed-test"


class SlowEngine:
    """Answers every item with a schema-valid category after DECODE_S per batch."""

    backend = "slow-fake"

    def __init__(self, spec: EngineSpec, pack: TaskPack) -> None:
        self.version = "slow-fake"

    def generate(self, items: list[EngineItem]) -> list[EngineOutput]:
        time.sleep(DECODE_S)
        return [EngineOutput(i.task, value={"category": "LOOKUP"}) for i in items]


@pytest.fixture(scope="module")
def base_url(ray_cluster):
    """The app with SlowEngine and a one-slot Student queue, behind Serve's HTTP proxy."""
    import ray
    from mkd.services.ray_local import loopback_env
    from ray import cloudpickle, serve

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the replica imports no tests
    loopback_env()
    if not ray.is_initialized():
        ray.init(address=ray_cluster.address, log_to_driver=False)
    serve.start(http_options={"host": "127.0.0.1", "port": ray_cluster.serve_http_port})
    small = {"num_cpus": 0.05}
    args = {
        "tasks": [TASK],
        "guards": {"enabled": False},
        "auth": {"token_env": None},
        "student": {
            "max_batch_size": 1, "max_ongoing_requests": 1, "max_queued_requests": 1,
            "max_pending_answers": -1, "ray_actor_options": small,
        },
        "teacher": {"backend": "stub", "ray_actor_options": small},
        "router": {
            "ray_actor_options": small,
            "user_config": {"mode": "split", "student_weight": 1.0, "mirror_fraction": 0.0},
        },
    }  # fmt: skip
    serve.run(compose_app(args, engine_cls=SlowEngine), name="shed-test", route_prefix=PREFIX)
    yield f"http://127.0.0.1:{ray_cluster.serve_http_port}{PREFIX}"
    serve.delete("shed-test")


async def _concurrent(base_url: str, n: int) -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        return await asyncio.gather(
            *(
                client.post(f"/v1/tasks/{TASK}", json={"input": f"GDP of India #{i}"})
                for i in range(n)
            )
        )


def _shed_total(base_url: str) -> float:
    text = httpx.get(base_url + "/metrics", timeout=30).text  # one Router replica: all of it
    lines = [x for x in text.splitlines() if x.startswith("mkd_student_shed_total{")]
    return sum(float(x.rsplit(" ", 1)[1]) for x in lines)


def test_with_the_student_queue_full_the_teacher_answers_and_the_shed_is_counted(base_url):
    alone = httpx.post(base_url + f"/v1/tasks/{TASK}", json={"input": "GDP of India"}, timeout=60)
    assert alone.status_code == 200 and alone.json()["route"] == "student"
    # Server-Timing: the decode is the models' share, not the Router's (whose first request
    # also waits for the shared rollout state, so its own share is not bounded here)
    timing = dict(part.strip().split(";dur=") for part in alone.headers["server-timing"].split(","))
    assert float(timing["models"]) >= DECODE_S * 1000 * 0.9 and float(timing["router"]) >= 0

    replies = asyncio.run(_concurrent(base_url, 6))
    assert [r.status_code for r in replies] == [200] * 6
    routes = [r.json()["route"] for r in replies]
    # one decodes, one waits in Serve's queue; Serve may refuse a little early, never late
    assert 1 <= routes.count("student") <= 2 and routes.count("shed") >= 4, routes
    shed = [r.json() for r in replies if r.json()["route"] == "shed"]
    assert all(s["model"] == "teacher:stub" and s["output"]["category"] for s in shed)
    assert _shed_total(base_url) == routes.count("shed")
    # a shed is load, not a student failure: the rollback window holds only the student's answers
    status = httpx.get(base_url + "/v1/rollout", timeout=30).json()
    assert status["window"]["attempts"] == 1 + routes.count("student")
    assert not status["rolled_back"]
