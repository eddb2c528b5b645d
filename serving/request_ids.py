"""The id of the request being handled: the one Ray Serve's proxy assigned (and returns in the
X-Request-Id response header, and writes on the replica's log lines), else one made here.

Error bodies carry it so that a client can quote it; the traceback stays in the router's log under
the same id.
"""

from __future__ import annotations

import uuid
from contextvars import ContextVar
from typing import Any

_local_id: ContextVar[str | None] = ContextVar("mkd_request_id", default=None)


def _serve_request_id() -> str:
    try:
        from ray.serve.context import _get_serve_request_context

        return _get_serve_request_context().request_id or ""
    except Exception:  # outside a replica, or a Ray without the request context
        return ""


def current_request_id() -> str:
    """Serve's id of the current request, else an id fixed for the rest of this task."""
    served = _serve_request_id()
    if served:
        return served
    local = _local_id.get()
    if local is None:
        local = uuid.uuid4().hex
        _local_id.set(local)
    return local


class RequestIdMiddleware:
    """Pure ASGI middleware: fixes the request's id before any handler runs, so that every task
    the handler spawns (student and teacher calls run concurrently) logs the same id."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope.get("type") == "http":
            _local_id.set(None)
            current_request_id()
        await self.app(scope, receive, send)
