"""`mkd teacher serve`: an OpenAI-compatible HTTP server over any non-HTTP teacher backend.

The demo, the tests and the benchmarks label through HTTP exactly as production does against a
hosted API. The server recovers the task and the query from the teacher prompt
(mkd.tasks.teacher_messages): the model name `mkd-<task>` names the task explicitly, otherwise
the system message is matched against each task's instruction; the last user turn holds
"Query: ...\\nas_of: ...". Latency and faults (429 with Retry-After, 500, hangs past the client's
timeout, malformed or truncated JSON) can be injected, and every request is logged as one JSON
line (item id, input hash, status, fault) so tests can prove an item was not labeled twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import re
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from mkd.records import canonical_json
from mkd.tasks import TaskPack
from mkd.teachers.base import LabelRequest, TeacherBackend
from mkd.teachers.openai_backend import ITEM_HEADER
from mkd.teachers.tokens import TokenCounter

FAULT_KINDS = ("429", "500", "timeout", "malformed", "truncated")
_QUERY = re.compile(r"Query: (?P<query>.*)\nas_of: (?P<as_of>[^\n]*)", re.S)


@dataclass(frozen=True)
class FaultPlan:
    """Injected latency and faults. Each request fails with probability `fail_rate`, the kind
    drawn uniformly from `kinds`; `hang_s` is how long a `timeout` fault stalls the answer."""

    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    fail_rate: float = 0.0
    kinds: tuple[str, ...] = FAULT_KINDS
    retry_after_s: float = 1.0
    hang_s: float = 30.0
    seed: int | None = None

    def __post_init__(self) -> None:
        unknown = set(self.kinds) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kind(s) {sorted(unknown)}; known: {FAULT_KINDS}")
        if not 0 <= self.fail_rate <= 1:
            raise ValueError(f"fail_rate must be within [0, 1], got {self.fail_rate}")


class BadRequest(ValueError):
    """The request cannot be served as asked (unknown task, no query): HTTP 400."""


def input_hash(task: str, query: str, as_of: str | None) -> str:
    """The identity of one labeling question, as logged by the server."""
    return hashlib.sha256(f"{task}\0{query}\0{as_of or ''}".encode()).hexdigest()


def recover_request(pack: TaskPack, body: dict[str, Any]) -> tuple[str, str, dict | None]:
    """(task, query, context) from an OpenAI chat request carrying a teacher prompt."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("'messages' must be a non-empty list")
    model = str(body.get("model") or "")
    task = model.removeprefix("mkd-") if model.removeprefix("mkd-") in pack.tasks else None
    if task is None:
        system = next((m.get("content") or "" for m in messages if m.get("role") == "system"), "")
        task = next((t.name for t in pack.tasks.values() if system.startswith(t.instruction)), None)
    if task is None:
        raise BadRequest(
            f"cannot tell the task: use model 'mkd-<task>' ({', '.join(pack.tasks)}) or the "
            "teacher prompt of mkd.tasks.teacher_messages"
        )
    user = next((m for m in reversed(messages) if m.get("role") == "user"), None)
    if user is None or not isinstance(user.get("content"), str):
        raise BadRequest("no user message with text content")
    match = _QUERY.fullmatch(user["content"])
    if match is None:
        return task, user["content"], None
    return task, match["query"], {"as_of": match["as_of"]}


class TeacherServer:
    """The ASGI app and its state: backend, pack, token counter, faults and request log."""

    def __init__(
        self,
        backend: TeacherBackend,
        pack: TaskPack,
        faults: FaultPlan | None = None,
        counter: TokenCounter | None = None,
        request_log: str | Path | None = None,
        model_name: str = "mkd-teacher",
    ) -> None:
        self.backend, self.pack = backend, pack
        self.faults = faults or FaultPlan()
        self.counter = counter or TokenCounter()
        self.model_name = model_name
        self._rng = random.Random(self.faults.seed)
        self._log = open(request_log, "a", encoding="utf-8") if request_log else None  # noqa: SIM115
        self._log_lock = threading.Lock()
        self.app = Starlette(
            routes=[
                Route("/v1/chat/completions", self.chat, methods=["POST"]),
                Route("/v1/models", self.models, methods=["GET"]),
                Route("/health", self.health, methods=["GET"]),
            ]
        )

    async def health(self, request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "teacher": self.backend.teacher_id})

    async def models(self, request: Request) -> JSONResponse:
        names = [self.model_name, *(f"mkd-{t}" for t in self.pack.tasks)]
        data = [{"id": n, "object": "model", "owned_by": "mkd"} for n in names]
        return JSONResponse({"object": "list", "data": data})

    async def chat(self, request: Request) -> JSONResponse:
        started = time.monotonic()
        item_id = unquote(request.headers.get(ITEM_HEADER) or "") or None
        try:
            body = json.loads(await request.body())
            if not isinstance(body, dict):
                raise BadRequest("the request body must be a JSON object")
            task, query, context = recover_request(self.pack, body)
        except (ValueError, BadRequest) as exc:  # JSONDecodeError is a ValueError
            self._record(item_id, None, None, 400, None, started)
            return _error(400, str(exc))
        digest = input_hash(task, query, (context or {}).get("as_of"))
        fault = self._draw_fault()
        if fault in ("429", "500"):
            self._record(item_id, task, digest, int(fault), fault, started)
            headers = {"Retry-After": f"{self.faults.retry_after_s:g}"} if fault == "429" else {}
            message = "rate limited (injected)" if fault == "429" else "internal error (injected)"
            return _error(int(fault), message, headers)
        await self._delay(fault)
        try:
            content, usage = await run_in_threadpool(self._answer, task, query, context, body)
        except BadRequest as exc:
            self._record(item_id, task, digest, 400, None, started)
            return _error(400, str(exc))
        content = _corrupt(content, fault)
        self._record(item_id, task, digest, 200, fault, started)
        return JSONResponse(_completion(body.get("model") or self.model_name, content, usage))

    def _answer(
        self, task: str, query: str, context: dict | None, body: dict
    ) -> tuple[str, dict[str, int]]:
        request = LabelRequest(id="http", task=task, input=query, context=context)
        try:
            (result,) = self.backend.label([request])
        except Exception as exc:  # a backend bug must cost one request, not the server
            raise BadRequest(f"teacher failed on this input: {type(exc).__name__}: {exc}") from None
        if result.error:
            raise BadRequest(f"teacher could not label this input: {result.error}")
        content = canonical_json(result.output) if result.output is not None else result.raw
        prompt = self.counter.prompt_tokens(body["messages"])
        completion = self.counter.completion_tokens(content or "")
        usage = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }
        return content or "", usage

    def _draw_fault(self) -> str | None:
        if self.faults.fail_rate and self._rng.random() < self.faults.fail_rate:
            return self._rng.choice(self.faults.kinds)
        return None

    async def _delay(self, fault: str | None) -> None:
        f = self.faults
        delay = f.latency_ms + (self._rng.uniform(-f.jitter_ms, f.jitter_ms) if f.jitter_ms else 0)
        delay = max(0.0, delay) / 1000
        if fault == "timeout":
            delay += f.hang_s
        if delay:
            await asyncio.sleep(delay)

    def _record(
        self,
        item_id: str | None,
        task: str | None,
        digest: str | None,
        status: int,
        fault: str | None,
        started: float,
    ) -> None:
        if self._log is None:
            return
        line = {
            "ts": round(time.time(), 3),
            "item_id": item_id,
            "task": task,
            "input_sha256": digest,
            "status": status,
            "fault": fault,
            "ms": round((time.monotonic() - started) * 1000, 1),
        }
        with self._log_lock:
            self._log.write(json.dumps(line, ensure_ascii=False) + "\n")
            self._log.flush()

    def close(self) -> None:
        if self._log is not None:
            self._log.close()


def _corrupt(content: str, fault: str | None) -> str:
    if fault == "malformed":
        return "Sure! Here is the JSON you asked for: " + content.replace('"', "'")
    if fault == "truncated":
        return content[: max(1, len(content) // 2)]
    return content


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    kind = "invalid_request_error" if status == 400 else "server_error"
    if status == 429:
        kind = "rate_limit_exceeded"
    body = {"error": {"message": message, "type": kind, "code": status}}
    return JSONResponse(body, status_code=status, headers=headers)


def _completion(model: str, content: str, usage: dict[str, int]) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": usage,
    }


class BackgroundServer:
    """Runs an ASGI app with uvicorn in a daemon thread (tests, benchmarks, the demo)."""

    def __init__(self, app: Any, port: int, host: str = "127.0.0.1") -> None:
        import uvicorn

        config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.url = f"http://{host}:{port}/v1"
        self._thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> BackgroundServer:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"teacher server did not start on {self.url}")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=10)


def serve(server: TeacherServer, port: int, host: str = "127.0.0.1") -> None:
    """Serve until interrupted (the `mkd teacher serve` command)."""
    import uvicorn

    try:
        uvicorn.run(server.app, host=host, port=port, log_level="warning", lifespan="off")
    finally:
        server.close()
