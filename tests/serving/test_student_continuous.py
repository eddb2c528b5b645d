"""The Student deployment with `backend: vllm`: every request goes to vLLM's async engine as it
arrives (continuous batching), none waits in @serve.batch (the CPU engines keep it: their
batching needs a Serve replica and is tested on Ray in test_student_engine.py).

vLLM cannot run here (no CUDA), so the fake `vllm` of tests/mkd/inference/fake_vllm.py is in
sys.modules; everything above it is real: the Student builds mkd.inference's AsyncVLLMEngine
itself from its `backend`, and its class (the Serve deployment's `func_or_class`) runs on
asyncio in this process as a replica runs it. tests/serving/test_student_engine.py deploys the
same on a real Ray cluster.
"""

from __future__ import annotations

import asyncio
import sys

import pytest
from mkd.inference import EngineItem
from mkd.inference.vllm_async import AsyncVLLMEngine

from serving.student import Student
from tests.mkd.inference import fake_vllm

StudentClass = Student.func_or_class


@pytest.fixture
def vllm_student(monkeypatch: pytest.MonkeyPatch):
    for name, module in fake_vllm.build().items():
        monkeypatch.setitem(sys.modules, name, module)
    args = {"backend": "vllm", "model_uri": "hf://acme/student", "max_batch_size": 64}
    student = StudentClass(args, "finance", ["query_classifier"])
    yield student
    student.engine.close()


def no_batching(_item: EngineItem) -> None:
    raise AssertionError("the continuous path must not go through @serve.batch")


def test_a_vllm_student_builds_the_async_engine_and_warms_it_up(vllm_student):
    assert isinstance(vllm_student.engine, AsyncVLLMEngine) and vllm_student.continuous
    (warm_up,) = vllm_student.engine.engine.requests
    assert fake_vllm.task_tag(warm_up["prompt"]) == "query_classifier"


def test_a_slow_request_does_not_hold_up_one_that_arrives_after_it(vllm_student):
    vllm_student._batched = no_batching

    async def two_clients():
        slow = asyncio.ensure_future(vllm_student.answer("query_classifier", "slow one"))
        await asyncio.sleep(0.05)
        started = asyncio.get_running_loop().time()
        fast = await vllm_student.answer("query_classifier", "fast one")
        fast_wall = asyncio.get_running_loop().time() - started
        return await slow, fast, fast_wall

    slow, fast, fast_wall = asyncio.run(two_clients())
    assert fast == {
        "task": "query_classifier",
        "output": {"category": "LOOKUP"},
        "error": None,
        "forwards": 6,
        "prompt_tokens": fast["prompt_tokens"],
        "completion_tokens": 6,
        "version": "student",
    }
    assert fast["prompt_tokens"] > 0
    assert slow["output"] == {"category": "LOOKUP"}
    assert fast_wall < fake_vllm.SLOW_S / 2
    assert vllm_student.counters["batches"] == 2 and vllm_student.counters["items"] == 2


def test_one_querys_tasks_are_concurrent_engine_requests(vllm_student):
    vllm_student._batched = no_batching
    tasks = ["query_classifier", "currency_identifier", "entity_extractor", "date_interpretation"]
    answers = asyncio.run(vllm_student.answer_many(tasks, "slow query"))
    assert [a["task"] for a in answers] == tasks
    assert answers[0]["output"] == {"category": "LOOKUP"}
    assert answers[1]["output"] is None and answers[1]["error"].startswith("schema: ")
    requests = vllm_student.engine.engine.requests[1:]  # after the warm-up
    assert sorted(fake_vllm.task_tag(r["prompt"]) for r in requests) == sorted(tasks)
    first_finished = min(t for _, t in vllm_student.engine.engine.finished[1:])
    assert max(r["submitted"] for r in requests) < first_finished


def test_an_engine_failure_reaches_the_router_as_that_answers_error(vllm_student):
    answer = asyncio.run(vllm_student.answer("query_classifier", "boom"))
    assert answer["output"] is None and "CUDA error" in answer["error"]


def test_the_replicas_health_is_the_engines(vllm_student):
    asyncio.run(vllm_student.check_health())
    vllm_student.engine.engine.dead = True
    with pytest.raises(RuntimeError, match="EngineDeadError"):
        asyncio.run(vllm_student.check_health())
