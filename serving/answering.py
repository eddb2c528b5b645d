"""Answering one query: the routing policy's plan carried out against the Student and Teacher
deployments, with fallback, output guards, background mirror/shadow scoring and capture.

`Answerer` holds no HTTP: the ingress (serving.router) calls `answer()` with the request's tasks,
query, context and route point. Its parts come from the app's args (`Answerer.build`) or are
passed in, so tests drive it with in-process handle stand-ins and no Serve.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time
from typing import Any, Protocol

from mkd.records import canonical_json
from mkd.scoring import score_item
from mkd.serve.config import AppArgs
from mkd.tasks import load_pack
from ray import serve
from ray.serve.exceptions import BackPressureError

from serving import policy
from serving.canary import CanaryMonitor
from serving.capture import FeedbackWriter, feedback_entry
from serving.metrics import RouterMetrics
from serving.protocol import ApiError, TaskResponse, Usage
from serving.request_ids import current_request_id
from serving.rollout_state import RolloutState, default_state
from serving.timing import waiting

log = logging.getLogger("ray.serve")


class GuardHook(Protocol):
    """Where mkd.guards plugs in: `check_request` may rewrite the query or raise ApiError;
    `check_answer` returns False for an answer that must not be served (the next answerer runs)."""

    def check_request(self, task: str, query: str) -> str: ...

    def check_answer(self, task: str, query: str, value: Any) -> bool: ...

    def safe_empty(self, task: str) -> Any: ...


async def _resolve(response: Any) -> Any:
    return await response


def _replica_identity() -> tuple[str | None, str]:
    """(application name, replica id) inside a Serve replica; (None, pid-<pid>) elsewhere."""
    try:
        ctx = serve.get_replica_context()
    except Exception:  # not in a replica (unit tests build the Answerer directly)
        return None, f"pid-{os.getpid()}"
    return ctx.app_name, str(ctx.replica_id)


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


class Answerer:
    """Student and teacher calls for one Router replica, steered by its CanaryMonitor."""

    def __init__(
        self,
        args: AppArgs,
        student: Any,
        teacher: Any,
        canary: CanaryMonitor,
        metrics: RouterMetrics,
        guards: GuardHook | None = None,
        capture: FeedbackWriter | None = None,
    ) -> None:
        self.args, self.student, self.teacher = args, student, teacher
        self.canary, self.metrics, self.guards, self.capture = canary, metrics, guards, capture
        self.pack = load_pack(args.pack)
        self.rng = random.Random()
        self.background: set[asyncio.Task] = set()
        # answers this replica has at the Student now (decoding or queued), against its share
        self.student_pending = 0
        self.pending_limit = policy.pending_limit(args.student, args.router.num_replicas)

    @classmethod
    def build(
        cls,
        student: Any,
        teacher: Any,
        args: dict | AppArgs,
        rollout_state: RolloutState | None = None,
    ) -> Answerer:
        """Everything one Router replica needs from the app's `args`, with the initial live
        config (`args.router.user_config`) applied."""
        args = AppArgs.model_validate(args)
        metrics = RouterMetrics()
        app_name, replica_name = _replica_identity()
        info = (lambda: student.info.remote()) if student is not None else None
        canary = CanaryMonitor(
            args, metrics, rollout_state or default_state(app_name), replica_name, info
        )
        canary.reconfigure(args.router.user_config.model_dump())
        guards, capture = _guard_hook(args), _feedback_writer(args, metrics)
        return cls(args, student, teacher, canary, metrics, guards, capture)

    async def answer(
        self,
        tasks: list[str],
        query: str,
        context: dict | None,
        point: float,
        forced: policy.Forced = None,
    ) -> dict[str, TaskResponse]:
        """Answer `tasks` for one query: student batch and teacher call run concurrently."""
        started = time.perf_counter()
        await self.canary.sync_state()
        if self.guards is not None:
            query = self.guards.check_request(tasks[0], query)
        canary = self.canary
        plan = policy.plan_routes(canary.config, tasks, point, bool(canary.rolled_back), forced)
        to_student = [t for t in tasks if plan[t] == "student"]
        to_teacher = [t for t in tasks if plan[t] != "student"]
        student_out, teacher_out = await asyncio.gather(
            self._student(to_student, query, context), self._teacher(to_teacher, query, context)
        )
        shed = to_student if student_out is None else []
        student_out = student_out or {}
        failed = [t for t in to_student if t not in shed and student_out.get(t) is None]
        if failed or shed:
            teacher_out.update(await self._teacher(failed + shed, query, context))
        latency_ms = (time.perf_counter() - started) * 1000
        responses, teacher_ok = {}, {}
        for task in tasks:
            if student_out.get(task) is not None:
                answer, route = student_out[task], "student"
                if policy.mirrors(canary.config, self.rng.random()):
                    self._spawn(self._mirror(task, query, context, answer))
            else:
                teacher_ok[task] = self._teacher_answer_ok(task, query, teacher_out[task])
                routed = "fallback" if task in failed else "shed" if task in shed else "teacher"
                answer, route = self._guard_teacher_answer(
                    task, teacher_out[task], routed, teacher_ok[task]
                )
                if task in failed:
                    self._capture(task, "fallback", query, context, teacher_out[task], None, None,
                                  guard_ok=teacher_ok[task])  # fmt: skip
            responses[task] = self._response(task, answer, route, latency_ms)
        shadowed = [t for t in tasks if plan[t] == "shadow"]
        if shadowed:
            answers = {t: (teacher_out[t], teacher_ok[t]) for t in shadowed}
            self._spawn(self._shadow(shadowed, query, context, answers))
        return responses

    def _response(self, task: str, answer: dict, route: str, latency_ms: float) -> TaskResponse:
        model = (
            self.args.student.name if route == "student" else f"teacher:{self.args.teacher.backend}"
        )
        self.metrics.requests.labels(task, route, "ok").inc()
        self.metrics.latency.labels(task, route).observe(latency_ms / 1000)
        return TaskResponse(
            task=task, output=answer["output"], model=model, version=answer["version"],
            route=route, latency_ms=round(latency_ms, 2), usage=Usage.of(answer),
        )  # fmt: skip

    def _teacher_answer_ok(self, task: str, query: str, answer: dict) -> bool:
        """The output guards' verdict on a teacher answer (checked once: the response and the
        feedback log both use it)."""
        return self.guards is None or self.guards.check_answer(task, query, answer["output"])

    def _guard_teacher_answer(
        self, task: str, answer: dict, route: str, ok: bool
    ) -> tuple[dict, str]:
        """Whichever model answers, the output guards apply: a failing teacher answer becomes
        the task's safe empty answer (never passed through)."""
        if ok:
            return answer, route
        self.metrics.fallbacks.labels(task, "guard").inc()
        return {**answer, "output": self.guards.safe_empty(task)}, "fallback"

    async def _student(
        self, tasks: list[str], query: str, context: dict | None
    ) -> dict[str, dict | None] | None:
        """Student answers per task, None where the teacher must answer instead (counted); None
        for the whole request when the Student is full (shed, counted; never held against the
        student by the rollback monitor: it is load, not a failure)."""
        if not tasks:
            return {}
        if not policy.student_has_room(self.student_pending, len(tasks), self.pending_limit):
            return self._shed(tasks)
        self.student_pending += len(tasks)
        try:
            return await self._call_student(tasks, query, context)
        finally:
            self.student_pending -= len(tasks)

    def _shed(self, tasks: list[str]) -> None:
        for task in tasks:
            self.metrics.shed.labels(task).inc()
        return None

    async def _call_student(
        self, tasks: list[str], query: str, context: dict | None
    ) -> dict[str, dict | None] | None:
        started = time.perf_counter()
        response = self.student.answer_many.remote(tasks, query, context)
        try:
            with waiting("models"):
                results = await asyncio.wait_for(
                    _resolve(response), self.canary.config.student_timeout_s
                )
        except TimeoutError:
            response.cancel()
            self.canary.record_latency("student", time.perf_counter() - started)
            return {t: self._student_failed(t, "timeout", "error") for t in tasks}
        except BackPressureError:  # Serve's queue for the Student is full (max_queued_requests)
            return self._shed(tasks)
        except Exception as exc:  # the replica raised or died: the teacher answers
            log.warning("request %s: student failed", current_request_id(), exc_info=exc)
            return {t: self._student_failed(t, "error", "error") for t in tasks}
        self.canary.record_latency("student", time.perf_counter() - started)
        out: dict[str, dict | None] = {}
        for task, res in zip(tasks, results, strict=True):
            guard_ok = None
            if self.guards is not None:
                guard_ok = lambda value, t=task: self.guards.check_answer(t, query, value)  # noqa: E731
            verdict = policy.judge_student(res, self.pack.task(task).schema_errors, guard_ok)
            if verdict == "ok":
                self.canary.record("ok")
                out[task] = res
            else:
                out[task] = self._student_failed(task, verdict, "fallback")
        return out

    def _student_failed(self, task: str, reason: str, outcome: str) -> None:
        self.metrics.fallbacks.labels(task, reason).inc()
        self.canary.record(outcome)  # type: ignore[arg-type]
        return None

    async def _teacher(self, tasks: list[str], query: str, context: dict | None) -> dict[str, dict]:
        if not tasks:
            return {}
        started = time.perf_counter()
        try:
            with waiting("models"):
                results = await self.teacher.answer_many.remote(tasks, query, context)
        except Exception as exc:  # details (a replica traceback) go to the log, not the client
            rid = current_request_id()
            log.error("request %s: teacher failed on %s", rid, tasks, exc_info=exc)
            raise ApiError(
                502,
                "teacher_unavailable",
                f"the teacher could not answer (request {rid}; see the router log)",
            ) from None
        self.canary.record_latency("teacher", time.perf_counter() - started)
        return dict(zip(tasks, results, strict=True))

    # --- background: mirror, shadow, capture --------------------------------------------------

    def _spawn(self, coro: Any) -> None:
        if len(self.background) >= self.canary.config.shadow_concurrency:
            coro.close()
            self.metrics.shadow_skipped.inc()
            return
        task = asyncio.get_running_loop().create_task(coro)
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    def _capture(
        self,
        task: str,
        source: str,
        query: str,
        context: dict | None,
        teacher: dict,
        student: dict | None,
        score: float | None,
        guard_ok: bool | None = None,
    ) -> None:
        """Queue a teacher answer for the feedback log (never blocks the request); `guard_ok`
        is the output guards' verdict where the response path already has it."""
        if self.capture is None:
            return
        if guard_ok is None:
            guard_ok = self._teacher_answer_ok(task, query, teacher)
        if not guard_ok:
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
        self.canary.record_agreement(task, score, source)
        return score

    async def _mirror(self, task: str, query: str, context: dict | None, student: dict) -> None:
        try:
            teacher = await self._teacher([task], query, context)
        except ApiError:
            return
        score = self._agreement(task, teacher[task]["output"], student["output"], "mirror")
        self._capture(task, "mirror", query, context, teacher[task], student, score)

    async def _shadow(
        self,
        tasks: list[str],
        query: str,
        context: dict | None,
        teacher_answers: dict[str, tuple[dict, bool]],
    ) -> None:
        """The student beside the teacher's answers (each with its output-guard verdict)."""
        results = await self._student(tasks, query, context) or {}  # shed: no student side
        for task in tasks:
            (teacher, guard_ok), student = teacher_answers[task], results.get(task)
            score = None
            if student is not None:
                score = self._agreement(task, teacher["output"], student["output"], "shadow")
            self._capture(task, "shadow", query, context, teacher, student, score, guard_ok)
