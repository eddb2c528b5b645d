"""How much of a request the Router itself spends, in the response's Server-Timing header.

`ServerTimingMiddleware` times each HTTP request from the moment the Router's app gets it to the
moment it starts the response; the Answerer marks the time it spends awaiting the Student or the
Teacher (`waiting("models")`) and the body reader the time it awaits the body from Serve's proxy
(`waiting("body")`). The header then reads `router;dur=<ms>, body;dur=<ms>, models;dur=<ms>`:
each wait is the wall time such an await was pending (overlapping ones counted once), `router`
the rest: parsing, auth, guards, routing, metrics and building the response. Serve's HTTP proxy
itself is outside all of them (benchmarks/bench_serve.py measures it apart).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

# One list per request; the Answerer's concurrent tasks copy the context but share the list.
Wait = tuple[float, float, str]  # (start, end, what was awaited)
_waits: ContextVar[list[Wait] | None] = ContextVar("mkd_request_waits", default=None)
KINDS = ("body", "models")


@contextmanager
def waiting(kind: str) -> Iterator[None]:
    """Mark the enclosed await as time the Router waits on `kind` (one of KINDS) rather than
    works (no-op outside a timed request)."""
    waits = _waits.get()
    started = time.perf_counter()
    try:
        yield
    finally:
        if waits is not None:
            waits.append((started, time.perf_counter(), kind))


def covered(intervals: list[tuple[float, float]]) -> float:
    """Seconds covered by the union of (start, end) intervals."""
    total, reach = 0.0, float("-inf")
    for start, end in sorted(intervals):
        if end > reach:
            total += end - max(start, reach)
            reach = end
    return total


def header_value(total_s: float, waits: list[Wait]) -> str:
    """The Server-Timing value of a request that took `total_s` with these waits."""
    waited = min(covered([(a, b) for a, b, _ in waits]), total_s)
    parts = [f"router;dur={(total_s - waited) * 1000:.3f}"]
    for kind in KINDS:
        spent = covered([(a, b) for a, b, k in waits if k == kind])
        parts.append(f"{kind};dur={spent * 1000:.3f}")
    return ", ".join(parts)


class ServerTimingMiddleware:
    """Pure ASGI middleware adding Server-Timing (router and model shares) to every response."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        waits: list[Wait] = []
        _waits.set(waits)
        started = time.perf_counter()

        async def timed_send(message: dict) -> None:
            if message["type"] == "http.response.start":
                value = header_value(time.perf_counter() - started, waits)
                headers = [*message.get("headers", []), (b"server-timing", value.encode())]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, timed_send)
