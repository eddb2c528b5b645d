"""A full Student queue sheds to the teacher: the client gets an answer at the teacher's speed,
the shed is counted, and capacity is never held against the student by the rollback monitor.

The Student handle is an in-process stand-in raising what Serve's handle raises once
`max_queued_requests` is reached (ray.serve.exceptions.BackPressureError); the Router, AppArgs
and the app builder are the real ones.
"""

from __future__ import annotations

import asyncio

from ray.serve.exceptions import BackPressureError

from serving.app import build_app
from tests.serving.test_router_guards import make_router


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


def test_a_full_student_queue_sheds_to_the_teacher_and_is_counted() -> None:
    router = make_router(lambda t, q: {"category": "LOOKUP"}, lambda t, q: {"category": "LIST"})
    router.student = FullQueue()
    task = "query_classifier"
    answers = [
        asyncio.run(router.answer([task], f"Top banks by assets #{i}", {}, 0.0))[task]
        for i in range(3)
    ]
    assert [(a.route, a.output) for a in answers] == [("fallback", {"category": "LIST"})] * 3
    shed = router.metrics.fallbacks.local.labels(task, "shed")._value.get()
    assert shed == 3 and router.student.calls == 3
    assert router.canary.monitor.stats().attempts == 0  # load is not the student's failure


def test_the_student_deployment_gets_the_queue_cap() -> None:
    app = build_app({"guards": {"enabled": False}, "student": {"max_queued_requests": 4}})
    student = app._bound_deployment.init_args[0]._bound_deployment
    assert (student.name, student.max_queued_requests) == ("Student", 4)
