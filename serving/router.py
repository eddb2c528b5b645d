"""The `Router` Serve deployment: the ingress, thin. It owns one Answerer (serving.answering:
routing policy, fallback, guards, mirror/shadow, capture) and its CanaryMonitor (serving.canary:
live config, rollback window, shared rollback state) and turns HTTP requests into their calls
through serving.ingress (auth, limits, parsing, OpenAI shapes, error bodies).

`RouterIngress` is the plain class (tests build it directly); `Router` is it under
`serve.ingress` and `serve.deployment`.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from ray import serve

from serving import ingress
from serving.answering import Answerer
from serving.ingress import app
from serving.policy import route_point
from serving.protocol import (
    AnalyzeResponse,
    ApiError,
    ChatRequest,
    TaskRequest,
    TaskResponse,
    check_query,
)
from serving.readiness import readiness
from serving.request_ids import current_request_id
from serving.rollout_state import RolloutState

READY_TIMEOUT_S = 5.0  # per readiness check; Kubernetes' probe timeout must be larger


async def _resolve(response: Any) -> Any:
    return await response


class RouterIngress:
    """Ingress deployment; live settings arrive through reconfigure(user_config)."""

    def __init__(
        self, student: Any, teacher: Any, args: dict, rollout_state: RolloutState | None = None
    ) -> None:
        self.answerer = Answerer.build(student, teacher, args, rollout_state)
        self.args, self.canary = self.answerer.args, self.answerer.canary
        self.student, self.teacher = student, teacher
        self.tasks = list(self.args.tasks)
        env = self.args.auth.token_env
        self.token = os.environ.get(env, "") if env else ""

    def reconfigure(self, user_config: dict | None) -> None:
        """Apply a new RouterConfig (serving.canary.CanaryMonitor.reconfigure)."""
        self.canary.reconfigure(user_config)

    async def _checked(self, request: Request, check: Any, task: str | None = None) -> Any:
        """Auth, the task's name (when given), then `check(body)` on the JSON body; a 4xx is
        counted by its code."""
        try:
            ingress.authorize(request, self.token)
            if task is not None:
                ingress.check_task(task, self.tasks)
            return check(await ingress.read_json(request, self.args.limits))
        except ApiError as exc:
            self.answerer.metrics.bad_requests.labels(exc.code).inc()
            raise

    def _point(self, request: Request, user: str | None = None) -> float:
        sticky = request.headers.get(self.canary.config.sticky_header) or user
        return route_point(sticky, self.answerer.rng)

    def _task_request(self, body: Any) -> TaskRequest:
        req: TaskRequest = ingress.parse(TaskRequest, body)
        check_query(self.args.limits, req.input, req.context, "input")
        return req

    @app.get("/healthz")
    async def healthz(self) -> dict:
        """Liveness: the Router answers (nothing else is checked)."""
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz(self) -> JSONResponse:
        """Readiness: 200 when the Student has its model loaded and the teacher is reachable,
        else 503; `checks` names what is missing."""
        ready, checks = await readiness(
            lambda: _resolve(self.student.info.remote()),
            lambda: _resolve(self.teacher.ready.remote()),
            READY_TIMEOUT_S,
        )
        body = {"status": "ready" if ready else "not_ready", "checks": checks}
        return JSONResponse(body, status_code=200 if ready else 503)

    @app.get("/metrics")
    async def metrics_endpoint(self) -> Response:
        # This replica's own registry, for debugging: Prometheus scrapes Ray's metrics port,
        # where every replica's series arrive with deployment/replica tags (docs/serving.md).
        metrics = self.answerer.metrics
        return Response(metrics.render(), media_type=metrics.content_type)

    @app.get("/v1/rollout")
    async def rollout_status(self, request: Request) -> dict:
        """Mode, weights in force, rollback state (this replica's and the shared one) and the
        window's figures."""
        ingress.authorize(request, self.token)
        await self.canary.sync_state()
        try:
            shared = await asyncio.wait_for(self.canary.state.snapshot(), 5)
        except Exception as exc:
            shared = {"error": f"shared rollout state unavailable ({type(exc).__name__})"}
        return {
            **self.canary.status(),
            "shared_state": shared,
            "router": {"pid": os.getpid(), "replica": self.canary.replica_name},
            "student": await self._student_info(),
        }

    async def _student_info(self) -> dict | None:
        try:
            return await asyncio.wait_for(_resolve(self.student.info.remote()), 10)
        except Exception as exc:  # status must answer even while the student is down
            rid = current_request_id()
            ingress.log.warning("request %s: student info unavailable", rid, exc_info=exc)
            return {"error": f"student unavailable ({type(exc).__name__}; request {rid})"}

    @app.get("/v1/tasks")
    async def task_list(self, request: Request) -> dict:
        """The served tasks: name, instruction and output JSON Schema (without MKD's decoding
        hints), what a client needs to call and validate /v1/tasks/{task}."""
        ingress.authorize(request, self.token)
        return ingress.task_list(self.answerer.pack, self.tasks)

    @app.post("/v1/tasks/{task}")
    async def task_endpoint(self, task: str, request: Request) -> TaskResponse:
        """One task: {"input", "context"} -> {"task", "output", "model", "version", "route", "latency_ms"}."""
        req = await self._checked(request, self._task_request, task)
        point = self._point(request)
        return (await self.answerer.answer([task], req.input, req.context, point))[task]

    @app.post("/v1/analyze")
    async def analyze(self, request: Request) -> AnalyzeResponse:
        """Every served task for one query, in one response (one student batch)."""
        started = time.perf_counter()
        req = await self._checked(request, self._task_request)
        point = self._point(request)
        results = await self.answerer.answer(self.tasks, req.input, req.context, point)
        return AnalyzeResponse(
            input=req.input,
            results=results,
            latency_ms=round((time.perf_counter() - started) * 1000, 2),
        )

    @app.get("/v1/models")
    async def models(self, request: Request) -> dict:
        """OpenAI model list: mkd-<task> (routed), mkd-<task>:student and mkd-<task>:teacher."""
        ingress.authorize(request, self.token)
        return ingress.model_list(self.tasks)

    @app.post("/v1/chat/completions", response_model=None)
    async def chat(self, request: Request) -> dict | StreamingResponse:
        """OpenAI-compatible: the model name selects the task (and optionally the route); the
        last user message is the query; context comes from `metadata` or an extra `context`.
        With `stream: true` the answer comes as server-sent chunks once it is decoded, so any
        error is still a plain HTTP error."""

        def check(body: Any) -> tuple:
            req: ChatRequest = ingress.parse(ChatRequest, body)
            task, forced = ingress.chat_target(req.model, self.tasks)
            query, context = ingress.chat_query(body, req, self.args.limits)
            return req, task, forced, query, context

        req, task, forced, query, context = await self._checked(request, check)
        point = self._point(request, req.user)
        result = (await self.answerer.answer([task], query, context, point, forced))[task]
        if req.stream:
            usage = req.stream_options is not None and req.stream_options.include_usage
            return ingress.chat_stream(req.model, result, usage)
        return ingress.chat_completion(req.model, result)


Router = serve.deployment(name="Router")(serve.ingress(app)(RouterIngress))
