"""An OpenAI-compatible chat endpoint as an engine, driven concurrently with asyncio.

Hosted APIs, vLLM's server, Ollama, a Ray Serve teacher and `mkd teacher serve` all speak the
same /v1/chat/completions protocol. This engine sends the task's prompt (the teacher's
context-engineered one by default), asks for JSON where the server supports it, and survives a
flaky server: retries with exponential backoff and jitter (honouring Retry-After), per-request
timeouts, a client-side rate limit, token usage and cost from the `usage` field, and a budget
cap that stops cleanly. Its settings are the teacher section (mkd.config.teacher).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from mkd.config.teacher import TeacherConfig
from mkd.inference.base import (
    EngineItem,
    EngineOutput,
    EngineSpec,
    finish,
    known_task,
    messages_for,
)
from mkd.tasks import TaskPack, TaskSpec

BUDGET_EXHAUSTED = "budget exhausted"
ITEM_HEADER = "X-MKD-Item-Id"  # lets a server's request log name the item (ignored elsewhere)


def _item_failure(item: EngineItem, out: EngineOutput | BaseException) -> EngineOutput:
    """One item's outcome from `gather`: an exception raised for this item alone (a bug its
    text triggers) becomes its error, so the batch's other answers, already paid for, are
    kept; a BaseException (cancellation, Ctrl-C) still stops the run."""
    if isinstance(out, EngineOutput):
        return out
    if not isinstance(out, Exception):
        raise out
    return EngineOutput(item.task, error=f"teacher failed: {type(out).__name__}: {out}")


def item_header_value(item_id: str) -> str:
    """The item id percent-encoded: header values are ASCII, ids need not be (L'Oréal)."""
    return quote(item_id, safe="")


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
    """What one HTTP attempt gave: an output to return, or a reason to retry after `delay`."""

    result: EngineOutput | None = None
    retry_reason: str | None = None
    retry_after: float | None = None
    raw: str | None = None


class OpenAIEngine:
    """Answers batches through an OpenAI-compatible server.

    Args:
        spec: prompt ("fewshot", the teacher's prompt, unless the endpoint serves a student)
            and max_new_tokens; the endpoint itself is `endpoint`.
        pack: the task pack whose prompts and schemas are used.
        endpoint: the teacher section (base_url, model, concurrency, retries, price, budget...).
        share: how many copies run at once (Ray actors); the rate limit and the budget are
            split evenly between them so the totals hold across the cluster.
    """

    backend = "openai"

    def __init__(
        self, spec: EngineSpec, pack: TaskPack, endpoint: TeacherConfig, share: int = 1
    ) -> None:
        self.spec, self.pack, self.cfg = spec, pack, endpoint
        self.version = spec.version or endpoint.model
        self.spent_usd = 0.0  # every answered attempt's cost, retried ones included
        self.spent_tokens = [0, 0]  # prompt, completion
        self.budget = endpoint.budget_usd / share if endpoint.budget_usd else None
        rps = endpoint.rate_limit_rps
        self._limiter = _RateLimiter(rps / share if rps else None)
        self._url = endpoint.base_url.rstrip("/") + "/chat/completions"

    @property
    def budget_exhausted(self) -> bool:
        return self.budget is not None and self.spent_usd >= self.budget

    def generate(self, items: Sequence[EngineItem]) -> list[EngineOutput]:
        """Answer a batch; outputs come back in the batch's order, one per item."""
        return asyncio.run(self.agenerate(items))

    async def agenerate(self, items: Sequence[EngineItem]) -> list[EngineOutput]:
        """Async form of `generate`, for callers that already run an event loop."""
        limits = httpx.Limits(max_connections=self.cfg.concurrency, max_keepalive_connections=64)
        headers = bearer_headers(self.cfg)
        gate = asyncio.Semaphore(self.cfg.concurrency)
        async with httpx.AsyncClient(limits=limits, headers=headers) as client:
            done = await asyncio.gather(
                *(self._one(client, gate, i) for i in items), return_exceptions=True
            )
        return [_item_failure(item, out) for item, out in zip(items, done, strict=True)]

    def _body(self, task: TaskSpec, item: EngineItem) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.cfg.model,
            "messages": messages_for(self.pack, task, item, self.spec.prompt),
            "temperature": self.cfg.temperature,
            "max_tokens": self.spec.max_new_tokens or self.cfg.max_tokens or task.max_output_tokens,
        }
        if self.cfg.json_mode == "json_object":
            body["response_format"] = {"type": "json_object"}
        elif self.cfg.json_mode == "json_schema":
            schema = {"name": task.name, "schema": task.standard_schema, "strict": True}
            body["response_format"] = {"type": "json_schema", "json_schema": schema}
        return body

    async def _one(
        self, client: httpx.AsyncClient, gate: asyncio.Semaphore, item: EngineItem
    ) -> EngineOutput:
        started = time.monotonic()
        refused = known_task(self.pack, item)
        if refused is not None:
            return refused
        task = self.pack.task(item.task)
        body, reason, raw = self._body(task, item), "", None
        for attempt in range(self.cfg.max_retries + 1):
            async with gate:  # checked inside the gate: requests queued behind it see the spend
                if self.budget_exhausted:
                    return EngineOutput(item.task, error=BUDGET_EXHAUSTED)
                await self._limiter.wait()
                outcome = await self._attempt(client, task, item, body)
            if outcome.result is not None:
                outcome.result.latency_s = time.monotonic() - started
                return outcome.result
            reason, raw = outcome.retry_reason or "", outcome.raw or raw
            if attempt < self.cfg.max_retries:
                await asyncio.sleep(self._backoff(attempt, outcome.retry_after))
        attempts = self.cfg.max_retries + 1
        error = f"gave up after {attempts} attempt(s): {reason}"
        return EngineOutput(item.task, raw=raw, error=error)

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        """Exponential backoff with full jitter; Retry-After, when given, is the floor."""
        cap = min(self.cfg.backoff_max_s, self.cfg.backoff_base_s * 2**attempt)
        delay = random.uniform(0, cap)
        if retry_after is not None:
            delay = retry_after + random.uniform(0, 0.1 * max(retry_after, 0.1))
        return delay

    async def _attempt(
        self, client: httpx.AsyncClient, task: TaskSpec, item: EngineItem, body: dict[str, Any]
    ) -> _Attempt:
        try:
            resp = await client.post(
                self._url,
                json=body,
                headers={ITEM_HEADER: item_header_value(item.id)},
                timeout=self.cfg.timeout_s,
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
            return _Attempt(result=EngineOutput(item.task, error=error))
        return self._parse(task, resp)

    def _parse(self, task: TaskSpec, resp: httpx.Response) -> _Attempt:
        try:
            data = resp.json()
            content = data["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            return _Attempt(retry_reason=f"malformed response body: {exc}", raw=resp.text[:500])
        out = self._account(task, data.get("usage") or {})
        out = finish(task, out, content or "")
        if out.error is not None and self.cfg.retry_invalid_json:
            return _Attempt(retry_reason=out.error, raw=content)
        return _Attempt(result=out)

    def _account(self, task: TaskSpec, usage: dict[str, Any]) -> EngineOutput:
        """An output carrying the server's token counts and their cost, added to the spend."""
        prompt = int(usage.get("prompt_tokens") or 0)
        completion = int(usage.get("completion_tokens") or 0)
        cost = self.cfg.price.cost(prompt, completion)
        self.spent_usd += cost
        self.spent_tokens[0] += prompt
        self.spent_tokens[1] += completion
        out = EngineOutput(task.name, prompt_tokens=prompt, output_tokens=completion)
        out.forwards, out.cost_usd = completion, cost
        return out


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
