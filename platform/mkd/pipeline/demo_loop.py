"""`mkd demo --loop`: after the rollout, one turn of the improvement loop on the running app.

traffic   the Router back to shadow; queries the dataset does not hold (demo.loop_queries) sent
          through /v1/analyze, so the teacher answers every task and the student is scored
          beside it; the capture writes each pair to the feedback log
loop      `mkd loop` on that log (mkd.pipeline.loop): v2 from v1 plus the feedback, training
          warm-started from the demo's student, v1 vs v2 on the fixed benchmark and on the new
          items, v2 deployed in shadow on the same app
"""

from __future__ import annotations

import contextlib
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

from mkd.pipeline.runner import PipelineContext


def loop_queries(ctx: PipelineContext) -> list[dict[str, Any]]:
    """One request per distinct query of demo.loop_queries (each record names one task)."""
    from mkd.tasks import load_pack

    path = Path(ctx.cfg.demo.loop_queries)
    if not path.is_absolute():
        path = load_pack(ctx.cfg.pack).data_file(str(path))
    if not path.exists():
        raise FileNotFoundError(f"demo.loop_queries: {path} does not exist")
    seen: dict[str, dict[str, Any]] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            seen.setdefault(rec["input"], {"input": rec["input"], "context": rec.get("context")})
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValueError(f"demo.loop_queries {path}:{number}: not a record ({exc})") from None
    return list(seen.values())[: ctx.cfg.demo.loop_max_queries]


def _analyze(url: str, queries: list[dict[str, Any]], concurrency: int = 4) -> dict[str, Any]:
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    def one(q: dict[str, Any]) -> int:
        try:
            body = {"input": q["input"], "context": q.get("context") or {}}
            return httpx.post(f"{url}/v1/analyze", json=body, timeout=300).status_code
        except httpx.HTTPError:
            return 0

    with ThreadPoolExecutor(concurrency) as pool:
        statuses = list(pool.map(one, queries))
    refused = Counter(str(s) for s in statuses if not 200 <= s < 300)  # guards refuse some
    return {"requests": len(statuses), "non_2xx": sum(refused.values()), "statuses": dict(refused)}


def _wait_for_feedback(ctx: PipelineContext, before: int, wanted: int, timeout_s: float) -> int:
    """Feedback rows written since `before`, once `wanted` arrived or the count stopped growing
    (the shadow comparisons finish after the responses; the writer flushes in batches)."""
    from mkd.feedback import read_feedback

    deadline, last, still = time.monotonic() + timeout_s, -1, 0
    while True:
        count = len(read_feedback(ctx.store, ctx.cfg.pack)) - before
        still = still + 1 if count == last else 0
        if count >= wanted or still >= 10 or time.monotonic() > deadline:
            return count
        last = count
        time.sleep(1.0)


def _wait_live(url: str, live: dict[str, Any], timeout_s: float = 60) -> None:
    """Until the Router reports the new live settings (Serve reconfigures in the background)."""
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError, ValueError):
            state = httpx.get(f"{url}/v1/rollout", timeout=10).json()
            if all(state.get(k) == v for k, v in live.items() if k in state):
                return
        time.sleep(0.5)
    raise RuntimeError(f"the Router did not take {live} within {timeout_s:.0f} s")


def traffic(ctx: PipelineContext) -> dict[str, Any]:
    """Production-like traffic in shadow: every teacher answer lands in the feedback log."""
    from mkd.feedback import read_feedback
    from mkd.serve import control

    url = f"http://127.0.0.1:{ctx.services['serve_port']}"
    queries = loop_queries(ctx)
    # room for every shadow comparison at once: beyond shadow_concurrency they are skipped, and
    # a skipped one is a teacher answer the loop never sees
    live = {"mode": "shadow", "student_weight": 0.0, "shadow_concurrency": len(queries)}
    control.update_live_config(ctx.services["dashboard_url"], "Router", live)
    _wait_live(url, live)
    before = len(read_feedback(ctx.store, ctx.cfg.pack))
    ctx.console.print(f"loop traffic: {len(queries)} queries through /v1/analyze in shadow")
    replay = _analyze(url, queries)
    wanted = len(queries) * len(ctx.cfg.tasks)
    written = _wait_for_feedback(ctx, before, wanted, timeout_s=600)
    ctx.console.print(f"loop traffic: {replay}, {written} of {wanted} answers in the feedback log")
    return {"queries": len(queries), "replay": replay, "feedback": written}


def loop_config(ctx: PipelineContext) -> Any:
    """The demo's config for one loop turn on this cluster: the evaluated student as v1, the
    running app as the shadow target, the loop's own training budget."""
    cfg = ctx.cfg.model_copy(deep=True)
    cfg.loop.current = ctx.output("evaluate", "version")
    cfg.loop.serve_dashboard = ctx.services["dashboard_url"]
    cfg.training.budget_minutes = cfg.demo.loop_training_minutes
    cfg.training.ray_address = ctx.services.get("ray_address")
    cfg.demo.deadline_minutes = None  # the deadline was the first run's; the loop has its budget
    return cfg


def loop(ctx: PipelineContext) -> dict[str, Any]:
    """One turn of mkd loop; its report compares v1 and v2."""
    from mkd.data.next_version import NothingNew
    from mkd.pipeline.loop import run_loop

    try:
        turn = run_loop(loop_config(ctx), ctx.store, ctx.console)
    except NothingNew as exc:
        ctx.console.print(f"[yellow]loop: nothing to learn from: {exc}[/]")
        return {"skipped": str(exc)}
    compare = turn.outputs.get("compare", {})
    return {
        "candidate": turn.outputs.get("evaluate", {}).get("version"),
        "passed": turn.outputs.get("evaluate", {}).get("passed"),
        "dataset": turn.outputs.get("dataset", {}).get("dataset"),
        "new_items": turn.outputs.get("dataset", {}).get("new_items"),
        "report_uri": compare.get("report_uri"),
        "overall": compare.get("overall"),
        "deployed": turn.outputs.get("deploy", {}).get("deployed"),
    }
