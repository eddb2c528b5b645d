"""The demo's serving phase: deploy the student in shadow, replay traffic, then a canary if its
gates passed."""

from __future__ import annotations

import json
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from mkd.assets import config_file
from mkd.pipeline.runner import PipelineContext


def serve_config(ctx: PipelineContext, version: str, teacher_url: str, port: int) -> dict[str, Any]:
    """configs/serve.yaml with this run's student version, teacher endpoint, store and guards."""
    from mkd.serve.control import load_serve_config, mkd_app, with_http_port

    config = with_http_port(load_serve_config(config_file("serve.yaml")), port)
    args = mkd_app(config)["args"]
    # deployed in shadow: any version loads; the canary step below asks canary_decision first
    args["student"] |= {"version": version, "model_uri": None, "adapter": None}
    args["student"]["shadow_only"] = True
    args["teacher"] |= {"backend": "openai", "base_url": teacher_url, "model": "mkd-teacher"}
    args["store"] = ctx.cfg.store.model_dump(mode="json")
    args["guards"] = ctx.cfg.guards.model_dump(mode="json")
    if ctx.cfg.demo.loop:  # the loop turn learns from what the Router captures
        args["capture"] = {"enabled": True, "sample_rate": 1.0, "flush_interval_s": 1.0}
    return config


REPLAY_CONCURRENCY = 4  # a few clients at once, as an application's workers would call


def replay(url: str, records: list[dict], concurrency: int = REPLAY_CONCURRENCY) -> dict[str, Any]:
    """Send test queries through the router; count routes, statuses and latency."""

    def one(rec: dict) -> tuple[int, str, float]:
        started = time.perf_counter()
        try:
            resp = httpx.post(
                f"{url}/v1/tasks/{rec['task']}",
                json={"input": rec["input"], "context": rec.get("context") or {}},
                timeout=120,
            )
        except httpx.HTTPError:
            return 0, "error", time.perf_counter() - started
        route = resp.json().get("route", "?") if resp.status_code == 200 else "error"
        return resp.status_code, route, time.perf_counter() - started

    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(one, records))
    latencies = sorted(r[2] for r in results)
    routes: dict[str, int] = {}
    for _, route, _ in results:
        routes[route] = routes.get(route, 0) + 1
    return {
        "requests": len(results),
        "non_2xx": sum(1 for status, _, _ in results if not 200 <= status < 300),
        "routes": routes,
        "p50_ms": 1000 * statistics.median(latencies) if latencies else None,
    }


def fallback_reasons(url: str) -> dict[str, float]:
    """Fallbacks so far by reason (timeout, invalid, guard, error), from the router's /metrics."""
    from prometheus_client.parser import text_string_to_metric_families

    try:
        text = httpx.get(f"{url}/metrics", timeout=10).text
    except httpx.HTTPError:
        return {}
    reasons: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name == "mkd_fallbacks":
            for sample in family.samples:
                if sample.name == "mkd_fallbacks_total":
                    reason = sample.labels["reason"]
                    reasons[reason] = reasons.get(reason, 0) + sample.value
    return reasons


def router_status(url: str) -> dict[str, Any]:
    try:
        return httpx.get(f"{url}/healthz", timeout=10).json()
    except (httpx.HTTPError, json.JSONDecodeError):
        return {}


def test_queries(ctx: PipelineContext, n: int) -> list[dict]:
    """A replay sample from the test split, mixed across tasks."""
    from mkd.store_layout import dataset_split

    key = dataset_split(ctx.cfg.data.dataset, ctx.cfg.data.version, "test")
    lines = ctx.store.get_bytes(key).splitlines()
    records = [json.loads(x) for x in lines if x.strip()]
    step = max(1, len(records) // n)
    return records[::step][:n]


def canary_decision(ctx: PipelineContext, version: str) -> tuple[bool, str]:
    """Whether `version` may take canary traffic, and why: only if the candidate's gates passed
    on the full evaluation (an exported variant's own small re-check only decides that it kept
    the master's answers), unless the demo was forced (`demo.force_canary`), which the summary
    reports."""
    from mkd.registry import Registry
    from mkd.release import gate_verdict

    evaluated = ctx.outputs.get("evaluate", {}).get("version") or version
    verdict = gate_verdict(Registry(ctx.store).resolve(evaluated))
    if verdict.passed:
        return True, "gates passed"
    failed = ", ".join(verdict.failed) if verdict.recorded else "no gate results"
    if ctx.cfg.demo.force_canary:
        return True, f"FORCED past failed gates ({failed})"
    return False, f"canary refused: gates failed ({failed}); shadow only"


def serve_and_roll_out(ctx: PipelineContext) -> dict[str, Any]:
    """Shadow first (teacher answers, student scored beside it), then a canary when the version's
    gates passed (or the run was forced); a rejected version stays in shadow."""
    from mkd.serve import control

    dashboard = ctx.services["dashboard_url"]
    port = ctx.services["serve_port"]
    versions = ctx.output("export", "versions") or [ctx.output("evaluate", "version")]
    version = versions[-1]
    config = serve_config(ctx, version, ctx.services["teacher_url"], port)
    url = f"http://127.0.0.1:{port}"
    ctx.console.print(f"deploying [bold]{version}[/] behind the router at {url} (shadow)")
    control.deploy(dashboard, config)
    control.wait_running(dashboard, timeout=900)
    queries = test_queries(ctx, ctx.services.get("replay_requests", 40))
    shadow = replay(url, queries)
    ctx.console.print(f"shadow replay: {shadow}")
    allowed, why = canary_decision(ctx, version)
    out = {"version": version, "url": url, "shadow": shadow, "decision": why, "canary": None}
    if not allowed:
        ctx.console.print(f"[yellow]{why}[/]")
        return out | {"router": router_status(url), "weight": 0.0}
    weight = ctx.cfg.demo.canary_weight
    live = control.update_live_config(
        dashboard, "Router", {"mode": "split", "student_weight": weight}
    )
    before = fallback_reasons(url)
    canary = replay(url, queries)
    after = fallback_reasons(url)
    canary["fallback_reasons"] = {
        k: int(v - before.get(k, 0)) for k, v in after.items() if v > before.get(k, 0)
    }
    ctx.console.print(f"canary replay at weight {live['student_weight']} ({why}): {canary}")
    return out | {"canary": canary, "router": router_status(url), "weight": live["student_weight"]}


def deploy_shadow(
    dashboard_url: str, version: str, app_name: str = "mkd", timeout: float = 900
) -> dict[str, Any]:
    """Put registry `version` behind the running app's Router in shadow (the teacher answers every
    request, the student runs beside it and is scored): the deployed Serve config with
    args.student.version replaced and the Router set to shadow with no per-task exception. Shadow
    takes any version, gates passed or not (mkd.release). Returns the Router's live config."""
    from mkd.serve import control
    from mkd.serve.config import RouterConfig
    from mkd.serve.release_gate import mark_shadow_only

    config = control.current_config(dashboard_url)
    app = control.mkd_app(config, app_name)
    student = app.setdefault("args", {}).setdefault("student", {})
    student |= {"version": version, "model_uri": None, "adapter": None}
    router = control.deployment_entry(app, "Router")
    live = {**(router.get("user_config") or {}), "mode": "shadow", "student_weight": 0.0}
    router["user_config"] = RouterConfig.model_validate(live | {"task_overrides": {}}).model_dump(
        mode="json"
    )
    if mark_shadow_only(app):  # cannot happen: shadow everywhere; refuse rather than go live
        raise control.ServeControlError("the shadow config still routes traffic to the student")
    control.deploy(dashboard_url, config)
    control.wait_running(dashboard_url, app_name, timeout)
    return router["user_config"]
