"""The support pack through every stage on the tiny model: augment -> label (its own reference
teacher, on Ray Data) -> review -> dataset -> train (Ray Train) -> evaluate -> serve (the Serve
app on a local Ray cluster, one real HTTP request per task, every answer schema-valid: the
student's, or the teacher's where the student broke a bound and the Router fell back).

Only this folder knows the pack: MKD loads it from its path like any user's pack.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # as tests/serving/conftest.py, see there

from tests.conftest import ray_cluster  # noqa: F401 - the shared loopback cluster fixture

PACK_DIR = Path(__file__).resolve().parent
REPO = PACK_DIR.parents[2]
TOKEN = "support-test-token"


def test_the_pack_loads_and_its_teacher_answers_every_curated_ticket_validly():
    from mkd.tasks import load_pack
    from mkd.teachers.base import LabelRequest
    from mkd.teachers.factory import make_reference_teacher

    pack = load_pack(str(PACK_DIR))
    teacher = make_reference_teacher(pack)
    lines = (PACK_DIR / "data" / "curated.jsonl").read_text(encoding="utf-8").splitlines()
    outputs = {task: [] for task in pack.tasks}
    for i, line in enumerate(lines):
        for task in pack.tasks:
            (result,) = teacher.label([LabelRequest(str(i), task, json.loads(line)["input"])])
            assert pack.task(task).schema_errors(result.output) == [], result.output
            outputs[task].append(result.output)
    assert any("amount" in o for o in outputs["ticket_triage"])  # the optional number
    assert any('\\"' in json.dumps(o) for o in outputs["issue_details"])  # escaped quotes
    for task in pack.tasks:
        for ex in pack.task(task).examples:
            (result,) = teacher.label([LabelRequest("ex", task, ex.input)])
            assert result.output == ex.output


def _pipeline_config(store_uri: str, base: Path, ray_address: str) -> dict:
    return {
        "name": "support",
        "pack": str(PACK_DIR),
        "store": {"uri": store_uri},
        "teacher": {"backend": "reference"},
        "data": {"dataset": "support", "augment": {"variations_per_prompt": 2},
                 "ray_address": ray_address, "actors": 1},
        "training": {"base_model": str(base), "max_steps": 2, "batch_size": 4,
                     "eval_every": 0, "eval_batches": 1, "checkpoint_every": 2, "log_every": 1,
                     "lora": {"r": 4, "alpha": 8}, "optimizer": {"warmup_steps": 1},
                     "ray_address": ray_address, "scaling": {"torch_threads": 1}},
        "evaluation": {"max_items_per_task": 2, "batch_size": 4, "max_new_tokens": 48,
                       "compare_base": False, "latency_probe_items": 0},
    }  # fmt: skip


def _serve_config(port: int, version: str, store_uri: str, tasks: list[str]) -> dict:
    from mkd.serve.control import (
        deployment_entry,
        load_serve_config,
        mkd_app,
        with_http_port,
    )

    config = with_http_port(load_serve_config(REPO / "configs" / "serve.yaml"), port)
    app = mkd_app(config)
    args = app["args"]
    args.update(pack=str(PACK_DIR), tasks=tasks, store={"uri": store_uri})
    args["student"].update(model_uri=None, version=version, allow_unpromoted=True)
    args["router"] = {"ray_actor_options": {"num_cpus": 0.1,
                      "runtime_env": {"env_vars": {"MKD_SERVE_TOKEN": TOKEN}}}}  # fmt: skip
    args["limits"]["required_context"] = []
    args["guards"] = {"enabled": False}  # a random tiny student's answers are not the point
    live = deployment_entry(app, "Router")["user_config"]
    live.update({"mode": "split", "student_weight": 1.0, "mirror_fraction": 0.0})
    return config


@pytest.mark.integration
@pytest.mark.slow
def test_support_pack_end_to_end(ray_cluster, tmp_path, monkeypatch):  # noqa: F811
    import httpx
    from mkd.config import parse_config
    from mkd.pipeline.cluster import run_pipeline
    from mkd.serve.control import deploy, shutdown, wait_running
    from mkd.storage import open_store
    from mkd.tasks import load_pack
    from mkd.training.tiny import build_tiny_student
    from rich.console import Console

    monkeypatch.setenv("MKD_CACHE_DIR", str(tmp_path / "cache"))
    base = build_tiny_student(tmp_path / "base", hidden=32, layers=1, max_positions=1024)
    store = open_store(f"file://{tmp_path / 'store'}")
    cfg = parse_config(_pipeline_config(store.uri, base, ray_cluster.address))
    pack = load_pack(str(PACK_DIR))
    assert cfg.tasks == list(pack.tasks)

    ctx = run_pipeline(cfg, store, Console(), until="evaluate")
    manifest = store.get_json("datasets/support/v1/manifest.json")
    assert manifest["counts"]["splits"]["train"] > 0, manifest["counts"]
    assert set(manifest["counts"]["tasks"]) == set(pack.tasks)
    version = ctx.output("evaluate", "version")
    assert version and version.startswith("support-student:")

    config = _serve_config(ray_cluster.serve_http_port, version, store.uri, list(pack.tasks))
    deploy(ray_cluster.dashboard_url, config)
    try:
        wait_running(ray_cluster.dashboard_url, timeout=600)
        url = f"http://127.0.0.1:{ray_cluster.serve_http_port}"
        headers = {"Authorization": f"Bearer {TOKEN}"}
        query = 'Charged $19.99 and the app says "E7: \\"sync\\" failed"'
        routes = {}
        for task in pack.tasks:
            r = httpx.post(f"{url}/v1/tasks/{task}", json={"input": query}, headers=headers,
                           timeout=120)  # fmt: skip
            assert r.status_code == 200, r.text
            body = r.json()
            routes[task] = body["route"]
            assert pack.task(task).schema_errors(body["output"]) == [], body
        # a 2-step tiny student may break a bound the grammar leaves to validation (urgency
        # <= 1): the Router then falls back to the teacher, as it should; some task is the
        # student's own answer
        assert set(routes.values()) <= {"student", "fallback"} and "student" in routes.values()
    finally:
        shutdown(ray_cluster.dashboard_url)
