"""The routing policy: which model answers a request. Pure decisions over the live RouterConfig,
the request and the rollout state (rolled back or not): no Ray, no I/O, no clock.

A request gets one point in [0, 1) (fixed per user when the sticky header is set, random
otherwise); each task goes to the student when the point falls under the task's effective weight,
to the teacher otherwise, or to the teacher with the student scored in the background (shadow).
A rollback sets every effective weight to 0. A student answer that failed, is schema-invalid or
fails the output guards falls back to the teacher. A student-routed request that would overfill
the Student (more answers pending than it decodes in one batch) is shed to the teacher:
load, not a failure.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterable
from typing import Any, Literal

from mkd.serve.config import RouterConfig, StudentArgs

Route = Literal["student", "teacher", "shadow"]
Forced = Literal["student", "teacher"] | None
Verdict = Literal["ok", "invalid", "guard"]


def cohort_point(sticky_value: str) -> float:
    """A stable point in [0, 1) for a user: the same user always falls on the same side.

    Raising the weight only adds users to the canary (a user below 0.05 is also below 0.25).
    """
    digest = hashlib.sha256(sticky_value.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def route_point(sticky_value: str | None, rng: random.Random) -> float:
    """The request's point in [0, 1): fixed per user when sticky, fresh otherwise.

    One point serves every task of a request, so /v1/analyze goes to one side as a whole
    (and stays batched in the student) unless per-task weights differ.
    """
    return cohort_point(sticky_value) if sticky_value else rng.random()


def takes_student(weight: float, point: float) -> bool:
    """True when a request at `point` goes to the student at canary `weight`."""
    return weight >= 1 or point < weight


def effective(config: RouterConfig, task: str, rolled_back: bool) -> tuple[str, float]:
    """(mode, student weight in force) for `task`: 0 in shadow mode or after a rollback."""
    mode, weight = config.for_task(task)
    return mode, (0.0 if rolled_back or mode == "shadow" else weight)


def plan_routes(
    config: RouterConfig,
    tasks: Iterable[str],
    point: float,
    rolled_back: bool,
    forced: Forced = None,
) -> dict[str, Route]:
    """The route of each task of one request at `point`; `forced` (an OpenAI model name's
    `:student`/`:teacher`) wins over mode and weight."""
    plan: dict[str, Route] = {}
    for task in tasks:
        mode, weight = effective(config, task, rolled_back)
        if forced:
            plan[task] = forced
        elif mode == "shadow":
            plan[task] = "shadow"
        else:
            plan[task] = "student" if takes_student(weight, point) else "teacher"
    return plan


def mirrors(config: RouterConfig, draw: float) -> bool:
    """Whether a student answer is also sent to the teacher to be scored (`draw` in [0, 1))."""
    return draw < config.mirror_fraction


def pending_limit(student: StudentArgs, router_replicas: int) -> int | None:
    """Answers one Router replica may keep at the Student at once (None: no cap): its share of
    `student.max_pending_answers`, by default one batch per Student replica, so an admitted
    answer waits for at most the batch being decoded (two batches doubled the student-routed
    p50 at 50 clients in bench_serve). vLLM batches continuously: its batch is
    `vllm.max_num_seqs` (vLLM's own default, 256, when unset)."""
    total = student.max_pending_answers
    if total == -1:
        return None
    if total is None:
        batch = student.max_batch_size
        if student.backend == "vllm":
            batch = int(student.vllm.get("max_num_seqs", VLLM_MAX_NUM_SEQS))
        total = batch * student.num_replicas
    return max(1, -(-total // router_replicas))


VLLM_MAX_NUM_SEQS = 256  # vllm.EngineArgs.max_num_seqs when the config leaves it out


def student_has_room(pending: int, adding: int, limit: int | None) -> bool:
    """Whether `adding` more answers may go to the Student with `pending` already there.

    A request larger than the whole limit (an /v1/analyze of many tasks) still goes while
    nothing is pending: it would otherwise never reach the student at all.
    """
    return limit is None or pending == 0 or pending + adding <= limit


def judge_student(
    result: dict,
    schema_errors: Callable[[Any], list],
    guard_ok: Callable[[Any], bool] | None,
) -> Verdict:
    """Whether a student answer may be served: `invalid` (it reported an error or breaks the
    task's schema) and `guard` (the output guards refuse it) fall back to the teacher."""
    if result.get("error") or schema_errors(result.get("output")):
        return "invalid"
    if guard_ok is not None and not guard_ok(result["output"]):
        return "guard"
    return "ok"


def canary_on(config: RouterConfig, tasks: Iterable[str], rolled_back: bool) -> bool:
    """Whether any task sends user traffic to the student now (a rollback needs one)."""
    return any(effective(config, t, rolled_back)[1] > 0 for t in tasks)


def validate_live_config(user_config: dict | None, tasks: list[str]) -> RouterConfig:
    """The RouterConfig of a Serve `user_config`.

    Raises:
        pydantic.ValidationError: a field does not validate.
        ValueError: task_overrides names a task that is not served.
    """
    new = RouterConfig.model_validate(user_config or {})
    unknown = [t for t in new.task_overrides if t not in tasks]
    if unknown:
        raise ValueError(f"task_overrides: unknown task(s) {unknown} (served: {tasks})")
    return new
