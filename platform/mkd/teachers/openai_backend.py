"""The `openai` teacher: any OpenAI-compatible chat endpoint, driven concurrently with asyncio.

Hosted APIs, vLLM's server, Ollama, a Ray Serve teacher and `mkd teacher serve` all speak the
same /v1/chat/completions protocol. This backend sends the task's context-engineered teacher
prompt, asks for JSON where the server supports it, and survives a flaky server: retries with
exponential backoff and jitter (honouring Retry-After), per-request timeouts, a client-side rate
limit, token usage and cost from the `usage` field, and a budget cap that stops cleanly.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from dataclasses import dataclass
from typing import Any

import httpx

from mkd.config.teacher import TeacherConfig
from mkd.tasks import TaskPack, TaskSpec, teacher_messages
from mkd.teachers.base import LabelRequest, LabelResult, Usage

BUDGET_EXHAUSTED = "budget exhausted"
ITEM_HEADER = "X-MKD-Item-Id"  # lets a server's request log name the item (ignored elsewhere)


class _RateLimiter:
    """Spaces request starts at least 1/rps apart (single event loop: no lock needed)."""

    def __init__(self, rps: float | None) -> None:
        self.interval = 1.0 / rps if rps else 0.0
        self.next_slot = 0.0

    async def wait(self) -> None:
        if not self.interval:
            return
        now = time.monotonic()
        slot = max(now, self.next_slot)
        self.next_slot = slot + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)


@dataclass
class _Attempt:
    """What one HTTP attempt gave: a result to return, or a reason to retry after `delay`."""

    result: LabelResult | None = None
    retry_reason: str | None = None
    retry_after: float | None = None
    raw: str | None = None


class OpenAITeacher:
    """Labels batches through an OpenAI-compatible server.

    Args:
        cfg: the teacher section (base_url, model, concurrency, retries, price, budget...).
        pack: the task pack whose teacher prompts and schemas are used.
        share: how many copies label at once (Ray actors); the rate limit and the budget are
            split evenly between them so the totals hold across the cluster.
    """

    def __init__(self, cfg: TeacherConfig, pack: TaskPack, share: int = 1) -> None:
        self.cfg, self.pack = cfg, pack
        self.teacher_id = cfg.teacher_id
        self.usage = Usage()
        self.budget = cfg.budget_usd / share if cfg.budget_usd else None
        self._limiter = _RateLimiter(cfg.rate_limit_rps / share if cfg.rate_limit_rps else None)
        self._url = cfg.base_url.rstrip("/") + "/chat/completions"

    @property
    def budget_exhausted(self) -> bool:
        return self.budget is not None and self.usage.cost_usd >= self.budget

    def label(self, batch: list[LabelRequest]) -> list[LabelResult]:
        """Label a batch; results come back in the batch's order, one per request."""
        return asyncio.run(self.alabel(batch))

    async def alabel(self, batch: list[LabelRequest]) -> list[LabelResult]:
        """Async form of `label`, for callers that already run an event loop."""
        limits = httpx.Limits(max_connections=self.cfg.concurrency, max_keepalive_connections=64)
        headers = bearer_headers(self.cfg)
        gate = asyncio.Semaphore(self.cfg.concurrency)
        async with httpx.AsyncClient(limits=limits, headers=headers) as client:
            return list(await asyncio.gather(*(self._label_one(client, gate, r) for r in batch)))

    def _body(self, task: TaskSpec, req: LabelRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.cfg.model,
            "messages": teacher_messages(self.pack, task, req.input, req.context),
            "temperature": self.cfg.temperature,
            "max_tokens": self.cfg.max_tokens or task.max_output_tokens,
        }
        if self.cfg.json_mode == "json_object":
            body["response_format"] = {"type": "json_object"}
        elif self.cfg.json_mode == "json_schema":
            schema = {"name": task.name, "schema": task.output_schema, "strict": True}
            body["response_format"] = {"type": "json_schema", "json_schema": schema}
        return body

    async def _label_one(
        self, client: httpx.AsyncClient, gate: asyncio.Semaphore, req: LabelRequest
    ) -> LabelResult:
        started = time.monotonic()
        try:
            task = self.pack.task(req.task)
        except KeyError as exc:
            return LabelResult(req.id, req.task, error=str(exc).strip('"'))
        body, reason, raw = self._body(task, req), "", None
        for attempt in range(self.cfg.max_retries + 1):
            async with gate:  # checked inside the gate: requests queued behind it see the spend
                if self.budget_exhausted:
                    return LabelResult(req.id, req.task, error=BUDGET_EXHAUSTED)
                await self._limiter.wait()
                outcome = await self._attempt(client, req, body)
            if outcome.result is not None:
                outcome.result.latency_s = time.monotonic() - started
                return outcome.result
            reason, raw = outcome.retry_reason or "", outcome.raw or raw
            if attempt < self.cfg.max_retries:
                await asyncio.sleep(self._backoff(attempt, outcome.retry_after))
        attempts = self.cfg.max_retries + 1
        error = f"gave up after {attempts} attempt(s): {reason}"
        return LabelResult(req.id, req.task, raw=raw, error=error)

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        """Exponential backoff with full jitter; Retry-After, when given, is the floor."""
        cap = min(self.cfg.backoff_max_s, self.cfg.backoff_base_s * 2**attempt)
        delay = random.uniform(0, cap)
        if retry_after is not None:
            delay = retry_after + random.uniform(0, 0.1 * max(retry_after, 0.1))
        return delay

    async def _attempt(
        self, client: httpx.AsyncClient, req: LabelRequest, body: dict[str, Any]
    ) -> _Attempt:
        try:
            resp = await client.post(
                self._url, json=body, headers={ITEM_HEADER: req.id}, timeout=self.cfg.timeout_s
            )
        except httpx.TimeoutException:
            return _Attempt(retry_reason=f"timeout after {self.cfg.timeout_s:g}s")
        except httpx.TransportError as exc:
            return _Attempt(retry_reason=f"connection error: {type(exc).__name__}: {exc}")
        if resp.status_code == 429 or resp.status_code >= 500:
            return _Attempt(
                retry_reason=f"HTTP {resp.status_code}: {resp.text[:200]}",
                retry_after=_retry_after(resp),
            )
        if resp.status_code >= 400:  # the request itself is wrong: asking again will not help
            error = f"HTTP {resp.status_code}: {resp.text[:300]}"
            return _Attempt(result=LabelResult(req.id, req.task, error=error))
        return self._parse(req, resp)

    def _parse(self, req: LabelRequest, resp: httpx.Response) -> _Attempt:
        try:
            data = resp.json()
            content = data["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            return _Attempt(retry_reason=f"malformed response body: {exc}", raw=resp.text[:500])
        usage = self._account(data.get("usage") or {})
        try:
            value = json.loads(strip_fences(content or ""))
        except json.JSONDecodeError as exc:
            reason = f"malformed JSON answer: {exc.msg} at column {exc.colno}"
            if self.cfg.retry_invalid_json:
                return _Attempt(retry_reason=reason, raw=content)
            return _Attempt(result=LabelResult(req.id, req.task, raw=content, error=reason))
        return _Attempt(
            result=LabelResult(req.id, req.task, raw=content, output=value, usage=usage)
        )

    def _account(self, usage: dict[str, Any]) -> Usage:
        prompt = int(usage.get("prompt_tokens") or 0)
        completion = int(usage.get("completion_tokens") or 0)
        spent = Usage(prompt, completion, self.cfg.price.cost(prompt, completion))
        self.usage += spent
        return spent


def _retry_after(resp: httpx.Response) -> float | None:
    """Retry-After in seconds (the HTTP-date form is rare from LLM APIs and ignored)."""
    value = resp.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def bearer_headers(cfg: TeacherConfig) -> dict[str, str]:
    """The Authorization header for the endpoint's API key, or none when there is no key."""
    return {"Authorization": f"Bearer {cfg.api_key}"} if cfg.api_key else {}


def strip_fences(text: str) -> str:
    """Chat models often wrap JSON in ```json fences even when asked not to."""
    text = text.strip()
    if text.startswith("```"):
        text = text.split("\n", 1)[1] if "\n" in text else ""
        text = text.rsplit("```", 1)[0]
    return text.strip()
