"""Readiness, as opposed to liveness: can this app answer with the student and the teacher now?

`GET /healthz` (liveness) only says the Router answers. `GET /readyz` asks the Student for its
info (answered only by a replica whose model is loaded and warmed up) and the Teacher whether its
backend is reachable; each check has a deadline and reports a short reason, never an exception's
text (that goes to the log).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger("ray.serve")


async def endpoint_reachable(base_url: str, timeout_s: float) -> str | None:
    """None when an OpenAI-compatible endpoint answers GET {base_url}/models below 500 (a 401 or
    404 still proves it is up), else why not."""
    import httpx

    url = base_url.rstrip("/") + "/models"
    try:
        async with httpx.AsyncClient(timeout=timeout_s) as client:
            resp = await client.get(url)
    except httpx.HTTPError as exc:
        return f"teacher endpoint {url} unreachable ({type(exc).__name__})"
    if resp.status_code >= 500:
        return f"teacher endpoint {url} answered {resp.status_code}"
    return None


async def _check(name: str, call: Callable[[], Awaitable[Any]], timeout_s: float) -> str | None:
    """None when `call()` succeeds within `timeout_s` (a dict result may carry its own `reason`)."""
    try:
        result = await asyncio.wait_for(call(), timeout_s)
    except TimeoutError:
        return f"{name} did not answer within {timeout_s:g}s (not loaded yet?)"
    except Exception as exc:
        log.warning("readiness: %s check failed", name, exc_info=exc)
        return f"{name} unavailable ({type(exc).__name__})"
    if isinstance(result, dict) and result.get("reason"):
        return str(result["reason"])
    return None


async def readiness(
    student_info: Callable[[], Awaitable[Any]],
    teacher_ready: Callable[[], Awaitable[Any]],
    timeout_s: float,
) -> tuple[bool, dict[str, str]]:
    """(ready, {check: "ok" or the reason}) for the student and the teacher, checked together."""
    student, teacher = await asyncio.gather(
        _check("student", student_info, timeout_s), _check("teacher", teacher_ready, timeout_s)
    )
    checks = {"student": student or "ok", "teacher": teacher or "ok"}
    return student is None and teacher is None, checks
