"""The Student deployment over an injected engine (no model, no Ray): what the Router receives.

The engine is a fake passed as `engine_cls`, as Ray Serve LLM's `LLMServer(engine_cls=...)`
takes one: the deployment's own code (Serve batching, answer shape, counters) runs for real on
a real Ray cluster; only the model is left out.
"""

from __future__ import annotations

import sys

import pytest
from mkd.inference import EngineItem, EngineOutput, EngineSpec
from mkd.tasks import TaskPack

from serving.student import Student

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


@pytest.fixture(scope="module")
def student(ray_cluster):
    """The Student deployment alone, with FakeEngine injected, on the session's Ray cluster."""
    import ray
    from mkd.services.ray_local import loopback_env
    from ray import cloudpickle, serve

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the replica imports no tests
    loopback_env()
    if not ray.is_initialized():
        ray.init(address=ray_cluster.address, log_to_driver=False)
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
