"""The `Router` ingress: validation, auth, canary/shadow routing, fallback, rollback, metrics.

Per request: check auth and limits (a 4xx naming the problem), pick a route per task from the live
`RouterConfig` (split by weight, sticky per X-MKD-User; shadow; per-task overrides), call the
student with a timeout and fall back to the teacher on failure, timeout or a schema-invalid answer.
Mirrored (split) and shadow pairs are scored with the task's scorer; the sliding-window monitor
rolls the student back to weight 0 when a gate fails. The rollback decision is shared by every
Router replica and survives a replica restart (serving.rollout_state), and the rolled-back
registry version is marked in the registry (mkd.registry.Registry.mark_rolled_back).
"""

import asyncio
import hmac
import json
import logging
import os
import random
import time
import uuid
from typing import Any, Protocol

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from mkd.records import canonical_json
from mkd.scoring import score_item
from mkd.serve.config import AppArgs, RouterConfig
from mkd.tasks import load_pack
from pydantic import BaseModel, ValidationError
from ray import serve
from ray.serve.exceptions import BackPressureError
from starlette.exceptions import HTTPException as StarletteHTTPException

from serving.body import read_limited_body
from serving.capture import FeedbackWriter, feedback_entry
from serving.metrics import RouterMetrics
from serving.protocol import (
    AnalyzeResponse,
    ApiError,
    ChatRequest,
    ErrorResponse,
    TaskRequest,
    TaskResponse,
    check_query,
)
from serving.readiness import readiness
from serving.request_ids import RequestIdMiddleware, current_request_id
from serving.rollout import RollbackMonitor, route_point, takes_student
from serving.rollout_state import RolloutState, applies, default_state

log = logging.getLogger("ray.serve")
READY_TIMEOUT_S = 5.0  # per readiness check; Kubernetes' probe timeout must be larger
app = FastAPI(title="MKD", description="Distilled multi-task student behind a canary router.")
app.add_middleware(RequestIdMiddleware)


class GuardHook(Protocol):
    """Where mkd.guards plugs in: `check_request` may rewrite the query or raise ApiError;
    `check_answer` returns False for an answer that must not be served (the next answerer runs)."""

    def check_request(self, task: str, query: str) -> str: ...

    def check_answer(self, task: str, query: str, value: Any) -> bool: ...


def _error_response(exc: ApiError) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    body = ErrorResponse.of(exc, current_request_id()).model_dump()
    return JSONResponse(body, status_code=exc.status, headers=headers)


@app.exception_handler(ApiError)
async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
    return _error_response(exc)


@app.exception_handler(RequestValidationError)
async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
    where = ".".join(str(p) for p in first["loc"])
    return _error_response(ApiError(422, "invalid_request", f"{where}: {first['msg']}", where))


@app.exception_handler(StarletteHTTPException)
async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    message = f"{request.method} {request.url.path}: {exc.detail}"
    return _error_response(
        ApiError(exc.status_code, "not_found" if exc.status_code == 404 else "http_error", message)
    )


@app.exception_handler(Exception)
async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    rid = current_request_id()
    log.error("request %s: unexpected error on %s", rid, request.url.path, exc_info=exc)
    return _error_response(
        ApiError(500, "internal_error", f"internal error (request {rid}; see the router log)")
    )


def _pydantic_error(exc: ValidationError) -> ApiError:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "<body>"
    message = (
        "unknown field (accepted: input, context)"
        if err["type"] == "extra_forbidden"
        else err["msg"]
    )
    return ApiError(422, "invalid_request", f"{where}: {message}", where)


async def _resolve(response: Any) -> Any:
    return await response


def _replica_identity() -> tuple[str | None, str]:
    """(application name, replica id) inside a Serve replica; (None, pid-<pid>) elsewhere."""
    try:
        ctx = serve.get_replica_context()
    except Exception:  # not in a replica (unit tests build the Router directly)
        return None, f"pid-{os.getpid()}"
    return ctx.app_name, str(ctx.replica_id)


def _student_identity(args: AppArgs) -> str:
    """What a rollback is about: the registry reference, else the model files. A new student
    (another version or model) starts without the old one's rollback."""
    s = args.student
    return s.version or f"{s.base_uri}|{s.adapter or ''}|{sorted(s.task_adapters.items())}"


def _mark_rolled_back(args: AppArgs, ref: str, loaded: str | None, reason: str, by: str) -> None:
    """Mark the loaded version (the Student's `name:N` label, else `ref` resolved) rolled back."""
    from mkd.registry import Registry, RegistryError, parse_ref
    from mkd.storage import open_store

    registry = Registry(open_store(args.store))
    try:
        parsed = parse_ref(loaded or "", pinned=True)
        version = parsed.version
        name = parsed.name
    except RegistryError:
        version = None
    if version is None:
        mv = registry.resolve(ref)
        name, version = mv.name, mv.version
    registry.mark_rolled_back(name, version, reason, by=f"router {by}")
    log.warning("registry: %s:%s marked rolled back (%s)", name, version, reason)


def _guard_hook(args: AppArgs) -> GuardHook | None:
    """The same guard chain the labeling job runs, built from the app's `guards` section."""
    if not args.guards.enabled:
        return None
    from mkd.guards.chain import GuardChain
    from mkd.guards.serving import RouterGuards

    return RouterGuards(GuardChain(args.guards, load_pack(args.pack), path="serving"), ApiError)


def _feedback_writer(args: AppArgs, metrics: RouterMetrics) -> FeedbackWriter | None:
    if not args.capture.enabled:
        return None
    from mkd.storage import open_store

    store = open_store(args.store)
    return FeedbackWriter(store, args.capture, args.pack, metrics.capture_dropped.inc)


@serve.deployment(name="Router")
@serve.ingress(app)
class Router:
    """Ingress deployment; live settings arrive through reconfigure(user_config)."""

    def __init__(
        self, student: Any, teacher: Any, args: dict, rollout_state: RolloutState | None = None
    ) -> None:
        self.args = AppArgs.model_validate(args)
        self.student, self.teacher = student, teacher
        self.pack = load_pack(self.args.pack)
        self.tasks = list(self.args.tasks)
        self.metrics = RouterMetrics()
        self.rng = random.Random()
        env = self.args.auth.token_env
        self.token = os.environ.get(env, "") if env else ""
        self.guards: GuardHook | None = _guard_hook(self.args)
        self._background: set[asyncio.Task] = set()
        self.config = RouterConfig()
        self.monitor = RollbackMonitor(self.config.rollback)
        self.rolled_back: str | None = None
        self.rolled_back_by: str | None = None
        self.last_gate_failure: str | None = None
        self.capture = _feedback_writer(self.args, self.metrics)
        app_name, self.replica_name = _replica_identity()
        self.state: RolloutState = rollout_state or default_state(app_name)
        self.student_id = _student_identity(self.args)
        self._synced = False  # the shared state has this replica's clear id
        self._poller: asyncio.Task | None = None
        self._first_sync: asyncio.Task | None = None
        self._sync_wait_until = 0.0
        self._reports: set[asyncio.Task] = set()
        self.reconfigure(self.args.router.user_config.model_dump())

    # --- live configuration -------------------------------------------------------------------

    def reconfigure(self, user_config: dict | None) -> None:
        """Apply a new RouterConfig. Only a new `rollback_clear_id` (mkd rollout clear) lifts a
        rollback and restarts the window; weight, mode and policy changes keep both."""
        new = RouterConfig.model_validate(user_config or {})
        unknown = [t for t in new.task_overrides if t not in self.tasks]
        if unknown:
            raise ValueError(f"task_overrides: unknown task(s) {unknown} (served: {self.tasks})")
        if new.rollback_clear_id != self.config.rollback_clear_id:
            if self.rolled_back:
                log.warning("rollback cleared (rollback_clear_id=%s)", new.rollback_clear_id)
            self.monitor = RollbackMonitor(new.rollback)
            self.rolled_back = self.rolled_back_by = None
            if self._synced:  # before the first sync, that sync sends the id in force
                self.state.clear_nowait(new.rollback_clear_id)
        elif self.monitor.policy != new.rollback:
            self.monitor = self.monitor.with_policy(new.rollback)
        self.config = new
        log.info(
            "router config: mode=%s weight=%s rolled_back=%s",
            new.mode,
            new.student_weight,
            self.rolled_back is not None,
        )
        self._publish_weights()

    def _weight(self, task: str) -> tuple[str, float]:
        mode, weight = self.config.for_task(task)
        return mode, (0.0 if self.rolled_back or mode == "shadow" else weight)

    def _publish_weights(self) -> None:
        self.metrics.rolled_back.set(1.0 if self.rolled_back else 0.0)
        for task in self.tasks:
            self.metrics.configured_weight.labels(task).set(self.config.for_task(task)[1])
            self.metrics.weight.labels(task).set(self._weight(task)[1])

    # --- request checks -----------------------------------------------------------------------

    def _authorize(self, request: Request) -> None:
        if not self.token:
            return
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip(), self.token):
            what = "missing" if not header else "wrong"
            raise ApiError(
                401, "unauthorized", f"{what} bearer token (send Authorization: Bearer <token>)"
            )

    async def _read_json(self, request: Request) -> Any:
        raw = await read_limited_body(request, self.args.limits.max_body_bytes)
        if not raw.strip():
            raise ApiError(
                400, "empty_body", 'request body is empty; send JSON such as {"input": "..."}'
            )
        try:
            return json.loads(raw)
        except UnicodeDecodeError:
            raise ApiError(400, "invalid_json", "request body is not UTF-8") from None
        except json.JSONDecodeError as exc:
            raise ApiError(
                400,
                "invalid_json",
                f"request body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
            ) from None

    def _check_task(self, task: str) -> None:
        if task not in self.tasks:
            raise ApiError(
                404,
                "unknown_task",
                f"unknown task {task!r}; served tasks: {', '.join(self.tasks)}",
                "task",
            )

    def _check_query(self, query: str, context: Any, field: str = "input") -> None:
        check_query(self.args.limits, query, context, field)

    def _parse(self, model: type[BaseModel], body: Any) -> Any:
        if not isinstance(body, dict):
            raise ApiError(
                422,
                "invalid_request",
                f"request body must be a JSON object, not {type(body).__name__}",
            )
        try:
            return model.model_validate(body)
        except ValidationError as exc:
            raise _pydantic_error(exc) from None

    # --- routing ------------------------------------------------------------------------------

    def _plan(self, tasks: list[str], point: float, forced: str | None) -> dict[str, str]:
        plan = {}
        for task in tasks:
            mode, weight = self._weight(task)
            if forced:
                plan[task] = forced
            elif mode == "shadow":
                plan[task] = "shadow"
            else:
                plan[task] = "student" if takes_student(weight, point) else "teacher"
        return plan

    async def _answer(
        self,
        tasks: list[str],
        query: str,
        context: dict | None,
        point: float,
        forced: str | None = None,
    ) -> dict[str, TaskResponse]:
        """Answer `tasks` for one query: student batch and teacher call run concurrently."""
        started = time.perf_counter()
        await self._sync_state()
        if self.guards is not None:
            query = self.guards.check_request(tasks[0], query)
        plan = self._plan(tasks, point, forced)
        to_student = [t for t in tasks if plan[t] == "student"]
        to_teacher = [t for t in tasks if plan[t] != "student"]
        student_out, teacher_out = await asyncio.gather(
            self._student(to_student, query, context), self._teacher(to_teacher, query, context)
        )
        failed = [t for t in to_student if student_out.get(t) is None]
        if failed:
            teacher_out.update(await self._teacher(failed, query, context))
            for task in failed:
                self._capture(task, "fallback", query, context, teacher_out[task], None, None)
        latency_ms = (time.perf_counter() - started) * 1000
        responses = {}
        for task in tasks:
            if student_out.get(task) is not None:
                answer, route = student_out[task], "student"
                if self.rng.random() < self.config.mirror_fraction:
                    self._spawn(self._mirror(task, query, context, answer))
            else:
                answer, route = teacher_out[task], ("fallback" if task in failed else "teacher")
                answer, route = self._guard_teacher_answer(task, query, answer, route)
            responses[task] = TaskResponse(
                task=task, output=answer["output"], model=self._model_name(route), version=answer["version"],
                route=route, latency_ms=round(latency_ms, 2),
            )  # fmt: skip
            self.metrics.requests.labels(task, route, "ok").inc()
            self.metrics.latency.labels(task, route).observe(latency_ms / 1000)
        shadowed = [t for t in tasks if plan[t] == "shadow"]
        if shadowed:
            self._spawn(
                self._shadow(shadowed, query, context, {t: teacher_out[t] for t in shadowed})
            )
        return responses

    def _guard_teacher_answer(
        self, task: str, query: str, answer: dict, route: str
    ) -> tuple[dict, str]:
        """Whichever model answers, the output guards apply: a failing teacher answer becomes
        the task's safe empty answer (never passed through)."""
        if self.guards is None or self.guards.check_answer(task, query, answer["output"]):
            return answer, route
        self.metrics.fallbacks.labels(task, "guard").inc()
        return {**answer, "output": self.guards.safe_empty(task)}, "fallback"

    def _model_name(self, route: str) -> str:
        return (
            self.args.student.name if route == "student" else f"teacher:{self.args.teacher.backend}"
        )

    async def _student(
        self, tasks: list[str], query: str, context: dict | None
    ) -> dict[str, dict | None]:
        """Student answers per task; None where the teacher must answer instead (counted)."""
        if not tasks:
            return {}
        started = time.perf_counter()
        response = self.student.answer_many.remote(tasks, query, context)
        try:
            results = await asyncio.wait_for(_resolve(response), self.config.student_timeout_s)
        except TimeoutError:
            response.cancel()
            self.monitor.record_latency("student", time.perf_counter() - started)
            return {t: self._student_failed(t, "timeout", "error") for t in tasks}
        except BackPressureError:  # the Student's queue is full: capacity, not the student's fault
            for t in tasks:
                self.metrics.fallbacks.labels(t, "shed").inc()
            return dict.fromkeys(tasks)
        except Exception as exc:  # the replica raised or died: the teacher answers
            log.warning("request %s: student failed", current_request_id(), exc_info=exc)
            return {t: self._student_failed(t, "error", "error") for t in tasks}
        self.monitor.record_latency("student", time.perf_counter() - started)
        out: dict[str, dict | None] = {}
        for task, res in zip(tasks, results, strict=True):
            if res.get("error") or self.pack.task(task).schema_errors(res.get("output")):
                out[task] = self._student_failed(task, "invalid", "fallback")
            elif self.guards is not None and not self.guards.check_answer(
                task, query, res["output"]
            ):
                out[task] = self._student_failed(task, "guard", "fallback")
            else:
                self.monitor.record("ok")
                out[task] = res
        self._check_rollback()
        return out

    def _student_failed(self, task: str, reason: str, outcome: str) -> None:
        self.metrics.fallbacks.labels(task, reason).inc()
        self.monitor.record(outcome)  # type: ignore[arg-type]
        self._check_rollback()
        return None

    async def _teacher(self, tasks: list[str], query: str, context: dict | None) -> dict[str, dict]:
        if not tasks:
            return {}
        started = time.perf_counter()
        try:
            results = await self.teacher.answer_many.remote(tasks, query, context)
        except Exception as exc:  # details (a replica traceback) go to the log, not the client
            rid = current_request_id()
            log.error("request %s: teacher failed on %s", rid, tasks, exc_info=exc)
            raise ApiError(
                502,
                "teacher_unavailable",
                f"the teacher could not answer (request {rid}; see the router log)",
            ) from None
        self.monitor.record_latency("teacher", time.perf_counter() - started)
        return dict(zip(tasks, results, strict=True))

    # --- the shared rollout state (serving.rollout_state) --------------------------------------

    async def _sync_state(self) -> None:
        """Start the poller once; until the first read has landed, wait for it, for at most 2 s
        after this replica's first request (a restarted replica must know about a rollback
        before it routes; an unreachable state must not slow every request down)."""
        if self._poller is None:
            loop = asyncio.get_running_loop()
            self._poller = loop.create_task(self._poll())
            self._first_sync = loop.create_task(self._refresh())
            self._sync_wait_until = time.monotonic() + 2.0
        remaining = self._sync_wait_until - time.monotonic()
        if not self._synced and self._first_sync is not None and remaining > 0:
            try:
                await asyncio.wait_for(asyncio.shield(self._first_sync), remaining)
            except Exception as exc:  # route with what this replica knows; the poller retries
                log.warning("shared rollout state not read yet", exc_info=exc)

    async def _poll(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._refresh(), 5.0)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("shared rollout state: read failed", exc_info=exc)
            await asyncio.sleep(self.args.router.state_poll_s)

    async def _refresh(self) -> None:
        if not self._synced:
            self.state.clear_nowait(self.config.rollback_clear_id)  # no-op for the id in force
        snapshot = await self.state.snapshot()
        self._synced = True
        self._apply_state(snapshot)

    def _apply_state(self, snapshot: dict) -> None:
        """Adopt a rollback the state holds for this student and clear id (the first reason
        wins); re-report this replica's own when the state lost it. Lifting happens only
        through a new rollback_clear_id (reconfigure)."""
        shared = applies(snapshot, self.config.rollback_clear_id, self.student_id)
        if shared is not None:
            if self.rolled_back != shared["reason"] or self.rolled_back_by != shared["by"]:
                if not self.rolled_back:
                    log.warning(
                        "rollback decided by router %s: student weight set to 0 (%s)",
                        shared["by"],
                        shared["reason"],
                    )
                self.rolled_back, self.rolled_back_by = shared["reason"], shared["by"]
                self._publish_weights()
        elif self.rolled_back and snapshot.get("clear_id") in (None, self.config.rollback_clear_id):
            self._report(self.rolled_back)

    def _report(self, reason: str) -> None:
        coro = self._report_async(reason)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # a synchronous caller (unit tests): run it to the end now
            asyncio.run(coro)
            return
        task = loop.create_task(coro)
        self._reports.add(task)
        task.add_done_callback(self._reports.discard)

    async def _report_async(self, reason: str) -> None:
        clear_id = self.config.rollback_clear_id
        if not self._synced:  # the state must know this replica's clear id first
            self.state.clear_nowait(clear_id)
            self._synced = True
        try:
            snapshot = await self.state.report(clear_id, self.student_id, reason, self.replica_name)
        except Exception as exc:
            log.error("shared rollout state: report failed (the poller retries)", exc_info=exc)
            return
        self._apply_state(snapshot)
        shared = applies(snapshot, clear_id, self.student_id)
        if shared is not None and shared["by"] == self.replica_name and self.args.student.version:
            await self._mark_registry(shared["reason"])

    async def _mark_registry(self, reason: str) -> None:
        """Mark the registry version as rolled back (the next deploy refuses it unless forced)."""
        ref = self.args.student.version
        loaded = None
        if self.student is not None:
            try:
                info = await asyncio.wait_for(_resolve(self.student.info.remote()), 10)
                loaded = info.get("version")
            except Exception:  # the student may be what is failing: resolve the reference
                loaded = None
        try:
            await asyncio.to_thread(
                _mark_rolled_back, self.args, ref, loaded, reason, self.replica_name
            )
        except Exception as exc:
            log.error("could not mark %s rolled back in the registry", ref, exc_info=exc)

    # --- background: mirror, shadow, rollback -------------------------------------------------

    def _spawn(self, coro: Any) -> None:
        if len(self._background) >= self.config.shadow_concurrency:
            coro.close()
            self.metrics.shadow_skipped.inc()
            return
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _capture(
        self,
        task: str,
        source: str,
        query: str,
        context: dict | None,
        teacher: dict,
        student: dict | None,
        score: float | None,
    ) -> None:
        """Queue a teacher answer for the feedback log (never blocks the request)."""
        if self.capture is None:
            return
        if self.guards is not None and not self.guards.check_answer(task, query, teacher["output"]):
            return  # a teacher answer the output guards refuse is no label
        entry = feedback_entry(
            task=task, source=source, query=query, context=context, teacher=teacher,
            student=student, score=score, request_id=current_request_id(),
        )  # fmt: skip
        if self.capture.add(entry):
            self.metrics.captured.labels(source).inc()

    def _agreement(self, task: str, teacher_value: Any, student_value: Any, source: str) -> float:
        score = score_item(
            self.pack.task(task), canonical_json(teacher_value), canonical_json(student_value)
        ).score
        self.monitor.record_agreement(score)
        self.metrics.agreement.labels(task, source).observe(score)
        stats = self.monitor.stats()
        if stats.agreement is not None:
            self.metrics.agreement_mean.set(stats.agreement)
        self._check_rollback()
        return score

    async def _mirror(self, task: str, query: str, context: dict | None, student: dict) -> None:
        try:
            teacher = await self._teacher([task], query, context)
        except ApiError:
            return
        score = self._agreement(task, teacher[task]["output"], student["output"], "mirror")
        self._capture(task, "mirror", query, context, teacher[task], student, score)

    async def _shadow(
        self, tasks: list[str], query: str, context: dict | None, teacher_answers: dict
    ) -> None:
        results = await self._student(tasks, query, context)
        for task in tasks:
            teacher, student = teacher_answers[task], results.get(task)
            score = None
            if student is not None:
                score = self._agreement(task, teacher["output"], student["output"], "shadow")
            self._capture(task, "shadow", query, context, teacher, student, score)

    def _check_rollback(self) -> None:
        reason = self.monitor.check()
        if reason is None:
            return
        self.last_gate_failure = reason
        canary_on = any(self._weight(t)[1] > 0 for t in self.tasks)
        if canary_on and not self.rolled_back:
            self.rolled_back, self.rolled_back_by = reason, self.replica_name
            self.metrics.rollbacks.inc()
            log.warning("automatic rollback: student weight set to 0 (%s)", reason)
            self._publish_weights()
            self._report(reason)

    # --- endpoints ----------------------------------------------------------------------------

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
        return Response(self.metrics.render(), media_type=self.metrics.content_type)

    @app.get("/v1/rollout")
    async def rollout_status(self, request: Request) -> dict:
        """Mode, weights in force, rollback state (this replica's and the shared one) and the
        window's figures."""
        self._authorize(request)
        await self._sync_state()
        try:
            shared = await asyncio.wait_for(self.state.snapshot(), 5)
        except Exception as exc:
            shared = {"error": f"shared rollout state unavailable ({type(exc).__name__})"}
        return {
            "mode": self.config.mode,
            "student_weight": self.config.student_weight,
            "effective_weights": {t: self._weight(t)[1] for t in self.tasks},
            "task_overrides": {k: v.model_dump() for k, v in self.config.task_overrides.items()},
            "rolled_back": self.rolled_back is not None,
            "rollback_reason": self.rolled_back,
            "rolled_back_by": self.rolled_back_by,
            "shared_state": shared,
            "last_gate_failure": self.last_gate_failure,
            "window": self.monitor.stats().as_dict(),
            "router": {"pid": os.getpid(), "replica": self.replica_name},
            "student": await self._student_info(),
        }

    async def _student_info(self) -> dict | None:
        try:
            return await asyncio.wait_for(_resolve(self.student.info.remote()), 10)
        except Exception as exc:  # status must answer even while the student is down
            rid = current_request_id()
            log.warning("request %s: student info unavailable", rid, exc_info=exc)
            return {"error": f"student unavailable ({type(exc).__name__}; request {rid})"}

    @app.post("/v1/tasks/{task}")
    async def task_endpoint(self, task: str, request: Request) -> TaskResponse:
        """One task: {"input", "context"} -> {"task", "output", "model", "version", "route", "latency_ms"}."""
        try:
            self._authorize(request)
            self._check_task(task)
            req: TaskRequest = self._parse(TaskRequest, await self._read_json(request))
            self._check_query(req.input, req.context)
        except ApiError as exc:
            self.metrics.bad_requests.labels(exc.code).inc()
            raise
        point = route_point(request.headers.get(self.config.sticky_header), self.rng)
        return (await self._answer([task], req.input, req.context, point))[task]

    @app.post("/v1/analyze")
    async def analyze(self, request: Request) -> AnalyzeResponse:
        """Every served task for one query, in one response (one student batch)."""
        started = time.perf_counter()
        try:
            self._authorize(request)
            req: TaskRequest = self._parse(TaskRequest, await self._read_json(request))
            self._check_query(req.input, req.context)
        except ApiError as exc:
            self.metrics.bad_requests.labels(exc.code).inc()
            raise
        point = route_point(request.headers.get(self.config.sticky_header), self.rng)
        results = await self._answer(self.tasks, req.input, req.context, point)
        return AnalyzeResponse(
            input=req.input,
            results=results,
            latency_ms=round((time.perf_counter() - started) * 1000, 2),
        )

    @app.get("/v1/models")
    async def models(self, request: Request) -> dict:
        """OpenAI model list: mkd-<task> (routed), mkd-<task>:student and mkd-<task>:teacher."""
        self._authorize(request)
        data = [
            {"id": f"mkd-{task}{suffix}", "object": "model", "created": 0, "owned_by": "mkd"}
            for task in self.tasks
            for suffix in ("", ":student", ":teacher")
        ]
        return {"object": "list", "data": data}

    def _chat_target(self, model: str) -> tuple[str, str | None]:
        name, _, route = model.partition(":")
        task = name.removeprefix("mkd-")
        if (
            not name.startswith("mkd-")
            or task not in self.tasks
            or route not in ("", "student", "teacher")
        ):
            raise ApiError(
                404,
                "model_not_found",
                f"unknown model {model!r}; GET /v1/models lists mkd-<task>[:student|:teacher] for {', '.join(self.tasks)}",
                "model",
            )
        return task, route or None

    @app.post("/v1/chat/completions")
    async def chat(self, request: Request) -> dict:
        """OpenAI-compatible: the model name selects the task (and optionally the route); the
        last user message is the query; context comes from `metadata` or an extra `context`."""
        try:
            self._authorize(request)
            body = await self._read_json(request)
            req: ChatRequest = self._parse(ChatRequest, body)
            task, forced = self._chat_target(req.model)
            if body.get("stream"):
                raise ApiError(
                    400,
                    "stream_unsupported",
                    "stream=true is not supported; answers are short JSON",
                    "stream",
                )
            users = [m.content for m in req.messages if m.role == "user" and m.content is not None]
            if not users:
                raise ApiError(
                    422, "invalid_request", "messages: no user message with content", "messages"
                )
            context = body.get("context") or req.metadata or None
            if context is not None and not isinstance(context, dict):
                raise ApiError(422, "invalid_request", "context must be an object", "context")
            self._check_query(users[-1], context, field="messages[-1].content")
        except ApiError as exc:
            self.metrics.bad_requests.labels(exc.code).inc()
            raise
        sticky = request.headers.get(self.config.sticky_header) or req.user
        result = (
            await self._answer([task], users[-1], context, route_point(sticky, self.rng), forced)
        )[task]
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": req.model,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": canonical_json(result.output)},
                "finish_reason": "stop",
            }],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
            "mkd": result.model_dump(),
        }  # fmt: skip
