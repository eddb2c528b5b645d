"""`mkd demo` / `mkd pipeline run`: the whole distillation, end to end, resumable.

Starts what it needs (a Ray cluster on 127.0.0.1, the reference teacher behind the
OpenAI-compatible HTTP server, SeaweedFS with --store s3), runs the stages, deploys the student
behind the canary router, and prints the before/after table.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from rich.console import Console

from mkd.config import PipelineConfig, parse_config
from mkd.config.loader import deep_merge
from mkd.pipeline.profiles import load_profile
from mkd.pipeline.runner import PipelineContext, Stage, run_stages
from mkd.pipeline.services import demo_services
from mkd.storage import open_store

DEMO_BUCKET = "mkd-demo"


def demo_config(base: dict[str, Any], profile: str, store_uri: str) -> PipelineConfig:
    """The profile over the embedded defaults, a user's config over both, then this run's store."""
    data = deep_merge(deep_merge(load_profile(profile), base), {"store": {"uri": store_uri}})
    return parse_config(data, f"<{profile} profile>")


@contextlib.contextmanager
def _s3_store(workdir: Path):
    """SeaweedFS on loopback for --store s3; yields the store section to use."""
    from mkd.services.seaweedfs import start_seaweedfs

    server = start_seaweedfs(workdir / "seaweedfs")
    with contextlib.suppress(Exception):
        server.client().create_bucket(Bucket=DEMO_BUCKET)
    try:
        yield {
            "uri": f"s3://{DEMO_BUCKET}/demo",
            "s3": {
                "endpoint_url": server.endpoint_url,
                "access_key_id": server.access_key,
                "secret_access_key": server.secret_key,
            },
        }
    finally:
        server.stop()


def run_demo(
    base: dict[str, Any],
    profile: str = "default",
    store: str = "local",
    fresh: bool = False,
    workdir: Path = Path("mkd-demo"),
    console: Console | None = None,
) -> PipelineContext:
    """Run every stage (reusing finished ones unless `fresh`) and the serving phase."""
    from mkd.pipeline.report import write_summary
    from mkd.pipeline.rollout import serve_and_roll_out
    from mkd.pipeline.stages import build_stages

    console = console or Console()
    workdir = workdir.resolve()
    with contextlib.ExitStack() as stack:
        store_section: dict[str, Any] = {"uri": f"file://{workdir / 'store'}"}
        if store == "s3":
            store_section = stack.enter_context(_s3_store(workdir))
        cfg = demo_config(deep_merge(base, {"store": store_section}), profile, store_section["uri"])
        latency = cfg.demo.teacher_latency_ms
        console.print(f"[bold]MKD demo[/] profile={profile} store={cfg.store.uri}")
        address, teacher, cluster = stack.enter_context(
            demo_services(workdir, latency, cfg.demo.teacher_jitter_ms)
        )
        cfg = cfg.model_copy(deep=True)
        cfg.teacher.base_url = teacher.base_url
        if not cfg.teacher.id:  # the served labeler's version keys the label cache
            cfg.teacher.id = f"{cfg.teacher.teacher_id}@{teacher.served_id}"
        cfg.data.ray_address = address
        ctx = PipelineContext(cfg, open_store(cfg.store), console)
        ctx.services |= {
            "ray_address": address,
            "teacher_url": teacher.base_url,
            "dashboard_url": cluster.dashboard_url if cluster else None,
            "serve_port": cluster.serve_http_port if cluster else 8000,
            "replay_requests": cfg.demo.replay_requests,
        }
        stages = [
            *build_stages(),
            Stage("serve", "Serve: shadow, then a 25% canary", serve_and_roll_out, always=True),
        ]
        if cfg.demo.loop:
            from mkd.pipeline import demo_loop

            stages += [
                Stage("traffic", "Loop: new traffic in shadow, captured", demo_loop.traffic,
                      always=True),
                Stage("loop", "Loop: v2 from the feedback, v1 vs v2, v2 in shadow",
                      demo_loop.loop, always=True),
            ]  # fmt: skip
        run_stages(stages, ctx, fresh=fresh)
        write_summary(ctx, workdir)
        with contextlib.suppress(Exception):
            from mkd.serve import control

            control.shutdown(ctx.services["dashboard_url"])
    return ctx


def default_base() -> dict[str, Any]:
    """The embedded defaults: every section at its model default (the pipeline's own YAML)."""
    return {}


def ensure_env() -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
