"""The `Teacher` Serve deployment: the configured TeacherBackend (mkd.teachers.factory).

In production the backend is `openai` (an OpenAI-compatible endpoint, async client); on this CPU
machine `reference` labels in-process. Every answer is schema-checked: a teacher answer that
breaks the contract is an upstream error (502), never served.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from typing import Any

from mkd.serve.config import ServeTeacherArgs
from mkd.tasks import TaskPack, load_pack
from mkd.teachers.base import LabelRequest, LabelResult, TeacherBackend
from ray import serve


class StubTeacher:
    """Answers each task with its first example's output: fixed, schema-valid, instantaneous."""

    def __init__(self, pack: TaskPack) -> None:
        self.pack = pack
        self.teacher_id = "stub"

    def label(self, batch: list[LabelRequest]) -> list[LabelResult]:
        out = []
        for req in batch:
            task = self.pack.tasks.get(req.task)
            if task is None or not task.examples:
                out.append(
                    LabelResult(req.id, req.task, error=f"stub has no answer for {req.task!r}")
                )
            else:
                out.append(LabelResult(req.id, req.task, output=task.examples[0].output))
        return out


def build_backend(args: ServeTeacherArgs, pack: TaskPack) -> TeacherBackend:
    """The backend `args.backend` names (stub here; the others through make_teacher)."""
    if args.backend == "stub":
        return StubTeacher(pack)
    from mkd.config.loader import interpolate_env
    from mkd.teachers.factory import make_teacher

    config = args.backend_config()
    # Resolved here, in the replica, so the key comes from this pod's environment (a Kubernetes
    # Secret) and never travels in the Serve config or the deployment's init args.
    problems: list[str] = []
    api_key = interpolate_env(config.api_key, "teacher.api_key", problems)
    if problems:
        raise ValueError("; ".join(problems))
    return make_teacher(config.model_copy(update={"api_key": api_key}), pack)


class TeacherError(RuntimeError):
    """The teacher failed or broke the task's schema (the router answers 502)."""


@serve.deployment(name="Teacher")
class Teacher:
    """Wraps one TeacherBackend; async backends (alabel) run on the loop, others in a thread."""

    def __init__(self, teacher: dict, pack: str) -> None:
        self.args = ServeTeacherArgs.model_validate(teacher)
        self.pack = load_pack(pack)
        self.backend = build_backend(self.args, self.pack)
        self.version = str(getattr(self.backend, "teacher_id", self.args.backend))
        self._ids = itertools.count()

    async def _label(self, requests: list[LabelRequest]) -> list[LabelResult]:
        if self.args.added_latency_s:
            await asyncio.sleep(self.args.added_latency_s)
        alabel = getattr(self.backend, "alabel", None)
        if alabel is not None:
            return await alabel(requests)
        return await asyncio.to_thread(self.backend.label, requests)

    async def answer(self, task: str, query: str, context: dict | None = None) -> dict[str, Any]:
        """{"output", "version", "latency_ms", "prompt_tokens", "completion_tokens"} for one
        task (tokens as the backend reports them; 0 where it counts none); TeacherError when it
        cannot answer."""
        return (await self.answer_many([task], query, context))[0]

    async def answer_many(
        self, tasks: list[str], query: str, context: dict | None = None
    ) -> list[dict]:
        started = time.perf_counter()
        requests = [LabelRequest(f"serve-{next(self._ids)}", t, query, context) for t in tasks]
        results = await self._label(requests)
        latency_ms = (time.perf_counter() - started) * 1000
        out = []
        for req, res in zip(requests, results, strict=True):
            if not res.ok:
                raise TeacherError(f"teacher failed on {req.task}: {res.error}")
            errors = self.pack.task(req.task).schema_errors(res.output)
            if errors:
                raise TeacherError(f"teacher answer for {req.task} breaks the schema: {errors[0]}")
            out.append({
                "output": res.output, "version": self.version, "latency_ms": latency_ms,
                "prompt_tokens": res.usage.prompt_tokens,
                "completion_tokens": res.usage.completion_tokens,
            })  # fmt: skip
        return out

    def info(self) -> dict:
        return {"pid": os.getpid(), "version": self.version, "backend": self.args.backend}

    async def ready(self) -> dict:
        """{"ready", "reason"}: an endpoint backend (openai) must answer GET /models; in-process
        backends are ready once this replica is up."""
        reason = None
        if self.args.backend == "openai":
            from serving.readiness import endpoint_reachable

            reason = await endpoint_reachable(self.args.base_url, min(self.args.timeout_s, 5.0))
        return {"ready": reason is None, "reason": reason}
