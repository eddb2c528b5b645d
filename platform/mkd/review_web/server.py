"""Build the review context from a pipeline config and serve it with uvicorn."""

from __future__ import annotations

import os

from mkd.config import PipelineConfig
from mkd.review_web.app import ItemSnapshot, ReviewContext, create_app
from mkd.review_web.items import collect_items, load_source
from mkd.storage import Store
from mkd.store_layout import dataset_prefix, work_prefix
from mkd.tasks import load_pack

LOOPBACK = "127.0.0.1"


class AuthRefused(ValueError):
    """No token configured and no permission to serve without one."""


def review_context(
    cfg: PipelineConfig,
    store: Store,
    per_task: int | None = None,
    disagreements: int = 20,
    token_env: str = "MKD_SERVE_TOKEN",
    refresh_s: float = 30.0,
) -> ReviewContext:
    """The items of the configured dataset version (see mkd.review_web.items), re-read from the
    store at most every `refresh_s` seconds while the page runs."""
    pack = load_pack(cfg.pack)
    n = cfg.data.review_sample_per_task if per_task is None else per_task
    ds_prefix = dataset_prefix(cfg.data.dataset, cfg.data.version)
    work = work_prefix(cfg.data.dataset, cfg.data.version)

    def snapshot() -> ItemSnapshot:
        source = load_source(store, work, ds_prefix)
        items = collect_items(pack, source, n, disagreements, cfg.seed)
        return ItemSnapshot(items, source.eval_id, tuple(source.problems))

    first = snapshot()
    return ReviewContext(
        store=store,
        pack=pack,
        dataset=cfg.data.dataset,
        version=cfg.data.version,
        items=first.items,
        eval_id=first.eval_id,
        problems=first.problems,
        token_env=token_env,
        default_reviewer=os.environ.get("USER", ""),
        reload=snapshot,
        refresh_s=refresh_s,
    )


def resolve_token(token_env: str, host: str, no_auth: bool) -> str | None:
    """The token to require, or None for --no-auth (only allowed on 127.0.0.1)."""
    token = os.environ.get(token_env, "").strip() if token_env else ""
    if no_auth:
        if host != LOOPBACK:
            raise AuthRefused(f"--no-auth is only allowed with --host {LOOPBACK} (got {host})")
        return None
    if not token:
        raise AuthRefused(
            f"no token: set ${token_env} (the serving token) or pass --no-auth "
            f"to serve on {LOOPBACK} without one"
        )
    return token


def serve(ctx: ReviewContext, token: str | None, host: str, port: int) -> None:
    import uvicorn

    uvicorn.run(create_app(ctx, token), host=host, port=port, log_level="info")
