"""A full Student sheds to the teacher: the client gets the teacher's answer at once with route
`shed`, the shed is counted (mkd_student_shed_total), and capacity is never held against the
student by the rollback monitor.

Two ways the Student is full: the Router's own count of answers pending at the Student reaches
its share of `student.max_pending_answers`, or Serve refuses the call once
`student.max_queued_requests` wait (ray.serve.exceptions.BackPressureError). The Student handles
here are in-process stand-ins; the Router, AppArgs and the app builder are the real ones. The
Serve-level test (a real cluster, a slow engine) is tests/serving/test_shedding_serve.py.
"""

from __future__ import annotations

import asyncio

from ray.serve.exceptions import BackPressureError

from serving.answering import Answerer
from serving.app import build_app
from tests.serving.test_router_guards import FakeHandle, make_router

TASK = "query_classifier"


class FullQueue:
    """A Student handle whose queue is full: every call is refused by back-pressure."""

    def __init__(self) -> None:
        self.calls = 0
        outer = self

        class _Method:
            def remote(self, tasks, query, context):
                outer.calls += 1

                async def refused():
                    raise BackPressureError(num_queued_requests=16, max_queued_requests=16)

                return refused()

        self.answer_many = _Method()


class GatedStudent:
    """A Student handle whose answers wait until `release` is set: requests pile up at it."""

    def __init__(self) -> None:
        self.calls, self.release = 0, asyncio.Event()
        outer = self

        class _Method:
            def remote(self, tasks, query, context):
                outer.calls += 1

                async def answer():
                    await outer.release.wait()
                    return [{"output": {"category": "LOOKUP"}, "version": "gated"} for _ in tasks]

                return answer()

        self.answer_many = _Method()


def shed_count(router: Answerer, task: str = TASK) -> float:
    return router.metrics.shed.local.labels(task)._value.get()


def test_a_full_student_queue_sheds_to_the_teacher_and_is_counted() -> None:
    router = make_router(lambda t, q: {"category": "LOOKUP"}, lambda t, q: {"category": "LIST"})
    router.student = FullQueue()
    answers = [
        asyncio.run(router.answer([TASK], f"Top banks by assets #{i}", {}, 0.0))[TASK]
        for i in range(3)
    ]
    assert [(a.route, a.output) for a in answers] == [("shed", {"category": "LIST"})] * 3
    assert shed_count(router) == 3 and router.student.calls == 3
    assert router.canary.monitor.stats().attempts == 0  # load is not the student's failure
    assert router.student_pending == 0


def test_past_its_pending_share_the_router_sheds_without_calling_the_student() -> None:
    args = {
        "guards": {"enabled": False},
        "student": {"max_pending_answers": 2},
        "router": {"user_config": {"mode": "split", "student_weight": 1.0, "mirror_fraction": 0}},
    }
    student = GatedStudent()
    router = Answerer.build(student, FakeHandle(lambda t, q: {"category": "LIST"}), args)

    async def scenario():
        waiting = [asyncio.create_task(router.answer([TASK], f"q{i}", None, 0.0)) for i in range(2)]
        await asyncio.sleep(0)  # both reach the Student and wait there
        shed = (await router.answer([TASK], "one too many", None, 0.0))[TASK]
        pending_then = router.student_pending
        student.release.set()
        served = [(await w)[TASK] for w in waiting]
        after = (await router.answer([TASK], "room again", None, 0.0))[TASK]
        return shed, pending_then, served, after

    shed, pending_then, served, after = asyncio.run(scenario())
    assert (shed.route, shed.output, pending_then) == ("shed", {"category": "LIST"}, 2)
    assert [a.route for a in served] == ["student", "student"] and after.route == "student"
    assert student.calls == 3 and shed_count(router) == 1 and router.student_pending == 0
    shed_requests = router.metrics.requests.local.labels(TASK, "shed", "ok")._value.get()
    assert shed_requests == 1
    assert router.metrics.fallbacks.local.labels(TASK, "error")._value.get() == 0
    assert router.canary.monitor.stats().attempts == 3  # the shed one is no attempt


def test_the_student_deployment_gets_the_queue_cap() -> None:
    app = build_app({"guards": {"enabled": False}, "student": {"max_queued_requests": 4}})
    student = app._bound_deployment.init_args[0]._bound_deployment
    assert (student.name, student.max_queued_requests) == ("Student", 4)
