"""The Student deployment over an injected engine (no model, no Ray): what the Router receives.

The engine is a fake passed as `engine_cls`, as Ray Serve LLM's `LLMServer(engine_cls=...)`
takes one: the deployment's own code (Serve batching, answer shape, counters) runs for real on
a real Ray cluster; only the model is left out. The vLLM student runs mkd.inference's real
AsyncVLLMEngine over the fake `vllm` of tests/mkd/inference/fake_vllm.py (vLLM cannot run here:
no CUDA), installed in the replica's process by the injected class.
"""

from __future__ import annotations

import sys
import time

import pytest
from mkd.inference import EngineItem, EngineOutput, EngineSpec
from mkd.inference.vllm_async import AsyncVLLMEngine
from mkd.tasks import TaskPack

from serving.student import Student
from tests.mkd.inference import fake_vllm

ANSWERS = {"query_classifier": {"category": "ECONOMIC_DATA"}}


class FakeEngine:
    """Answers query_classifier; any other task gets a schema violation."""

    backend = "fake"

    def __init__(self, spec: EngineSpec, pack: TaskPack) -> None:
        self.spec, self.pack = spec, pack
        self.version = f"fake:{spec.model_uri}:{spec.max_new_tokens}"  # the spec it was given

    def generate(self, items: list[EngineItem]) -> list[EngineOutput]:
        outs = []
        for item in items:
            if item.task in ANSWERS:
                outs.append(
                    EngineOutput(
                        item.task,
                        value=ANSWERS[item.task],
                        forwards=1,
                        prompt_tokens=11,
                        output_tokens=5,
                    )
                )
            else:
                outs.append(EngineOutput(item.task, value={}, violation="<root>: bad", forwards=3))
        return outs


class FakeVLLMEngine(AsyncVLLMEngine):
    """The real async engine over the fake vllm, installed first in the replica's process."""

    def __init__(self, spec: EngineSpec, pack: TaskPack) -> None:
        fake_vllm.install()
        super().__init__(spec, pack)


@pytest.fixture(scope="module")
def serve_on_ray(ray_cluster):
    """serve.run on the session's Ray cluster, this module and the fake vllm pickled by value."""
    import ray
    from mkd.services.ray_local import loopback_env
    from ray import cloudpickle, serve

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the replica imports no tests
    cloudpickle.register_pickle_by_value(fake_vllm)
    loopback_env()
    if not ray.is_initialized():
        ray.init(address=ray_cluster.address, log_to_driver=False)
    return serve


@pytest.fixture(scope="module")
def student(serve_on_ray):
    """The Student deployment alone, with FakeEngine injected, on the session's Ray cluster."""
    serve = serve_on_ray
    app = Student.options(ray_actor_options={"num_cpus": 0.1}).bind(
        {"model_uri": "/models/x", "max_new_tokens": 7}, "finance", ["query_classifier"], None,
        FakeEngine,
    )  # fmt: skip
    yield serve.run(app, name="engine-injection", route_prefix=None)
    serve.delete("engine-injection")


@pytest.mark.integration
@pytest.mark.slow
def test_the_injected_engine_answers_with_the_routers_fields(student):
    good, bad = student.answer_many.remote(["query_classifier", "entity_extractor"], "q").result()
    assert good == {
        "task": "query_classifier", "output": {"category": "ECONOMIC_DATA"}, "error": None,
        "forwards": 1, "prompt_tokens": 11, "completion_tokens": 5,
        "version": "fake:/models/x:7",
    }  # fmt: skip
    assert bad["output"] is None and bad["error"] == "schema: <root>: bad"
    info = student.info.remote().result()
    assert info["backend"] == "fake"
    assert info["batches"] == 1 and info["items"] == 2  # one query's tasks: one engine call


@pytest.fixture(scope="module")
def vllm_student(serve_on_ray):
    """A `backend: vllm` Student on Ray, its engine the async one over the fake vllm."""
    serve = serve_on_ray
    app = Student.options(name="VLLMStudent", ray_actor_options={"num_cpus": 0.1}).bind(
        {"backend": "vllm", "model_uri": "hf://acme/student"}, "finance", ["query_classifier"],
        None, FakeVLLMEngine,
    )  # fmt: skip
    yield serve.run(app, name="vllm-student", route_prefix=None)
    serve.delete("vllm-student")


@pytest.mark.integration
@pytest.mark.slow
def test_a_vllm_replica_sends_each_request_to_the_engine_as_it_arrives(vllm_student):
    stalled = vllm_student.answer.remote("query_classifier", "stall query")
    started = time.perf_counter()
    fast = vllm_student.answer.remote("query_classifier", "fast query").result()
    assert time.perf_counter() - started < fake_vllm.STALL_S / 2  # it did not queue behind
    assert fast["output"] == {"category": "LOOKUP"} and fast["completion_tokens"] == 6
    assert stalled.result()["output"] == {"category": "LOOKUP"}
    info = vllm_student.info.remote().result()
    assert info["backend"] == "vllm-async"
    assert info["batches"] == info["items"] == 2  # one engine call per request
