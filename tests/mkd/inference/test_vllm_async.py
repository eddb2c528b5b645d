"""vLLM's async engine (mkd.inference.vllm_async) and the offline one's shared parts.

vLLM cannot run on this machine (no CUDA; it cannot even be installed), so a fake `vllm`
package (tests/mkd/inference/fake_vllm.py, shaped on vLLM's AsyncLLM, SamplingParams,
StructuredOutputsParams and LoRARequest sources) is put in sys.modules: these tests check what
MKD asks of vLLM and what it makes of the answers, not vLLM itself.
"""

from __future__ import annotations

import asyncio
import json
import sys

import pytest
from mkd.inference import EngineItem, EngineSpec, engine_class, serving_engine_class
from mkd.inference.vllm_async import AsyncVLLMEngine
from mkd.inference.vllm_engine import VLLMEngine

from tests.mkd.inference import fake_vllm


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch):
    """Install the fake vllm (undone after the test); returns a builder of variants."""

    def install(**variant) -> type:
        for name, module in fake_vllm.build(**variant).items():
            monkeypatch.setitem(sys.modules, name, module)
        return sys.modules["vllm.v1.engine.async_llm"].AsyncLLM

    install()
    return install


def make(pack, **spec) -> AsyncVLLMEngine:
    return AsyncVLLMEngine(EngineSpec(backend="vllm", model_uri="hf://acme/student", **spec), pack)


def test_the_student_serves_vllm_through_the_async_engine_and_labeling_keeps_the_batch_one():
    assert serving_engine_class("vllm") is AsyncVLLMEngine
    assert engine_class("vllm") is VLLMEngine
    assert serving_engine_class("transformers") is engine_class("transformers")


def test_the_engine_is_built_from_async_engine_args_with_the_specs_options(fake, pack):
    engine = make(pack, dtype="bfloat16", options={"max_num_seqs": 128})
    args = engine.engine.args
    assert args.model == "acme/student"
    assert args.options == {
        "dtype": "bfloat16",
        "enable_lora": False,
        "enable_prefix_caching": True,
        "seed": 0,
        "max_num_seqs": 128,
    }
    engine.close()
    assert engine.engine.shut_down


def test_a_slow_request_does_not_delay_a_fast_one_sent_after_it(fake, pack):
    engine = make(pack)

    async def two_callers():
        slow = asyncio.ensure_future(engine.agenerate([EngineItem("query_classifier", "slow q")]))
        await asyncio.sleep(0.05)  # the slow request is decoding when the fast one arrives
        fast_started = asyncio.get_running_loop().time()
        (fast,) = await engine.agenerate([EngineItem("query_classifier", "fast q")])
        fast_wall = asyncio.get_running_loop().time() - fast_started
        return (await slow)[0], fast, fast_wall

    slow, fast, fast_wall = asyncio.run(two_callers())
    assert slow.ok and fast.ok
    assert fast_wall < fake_vllm.SLOW_S / 2  # it never waited for the slow one to finish
    assert slow.latency_s >= fake_vllm.SLOW_S > fast.latency_s
    finished = [rid for rid, _ in engine.engine.finished]
    assert [r["prompt"].count("fast") for r in engine.engine.requests] == [0, 1]
    assert finished == [
        engine.engine.requests[1]["request_id"],
        engine.engine.requests[0]["request_id"],
    ]


def test_one_calls_items_are_separate_requests_in_flight_together(fake, pack):
    engine = make(pack)
    items = [EngineItem("query_classifier", f"slow {i}") for i in range(4)]
    outs = asyncio.run(engine.agenerate(items))
    assert [o.ok for o in outs] == [True] * 4
    assert len({r["request_id"] for r in engine.engine.requests}) == 4
    last_submitted = max(r["submitted"] for r in engine.engine.requests)
    first_finished = min(t for _, t in engine.engine.finished)
    assert last_submitted < first_finished  # all four were in the engine at once
    assert all(o.batch_size == 1 for o in outs)


def test_decoding_is_greedy_final_only_and_constrained_to_the_standard_schema(fake, pack):
    engine = make(pack)
    asyncio.run(engine.agenerate([EngineItem("entity_extractor", "Apple revenue")]))
    params = engine.engine.requests[0]["params"]
    task = pack.task("entity_extractor")
    assert params.temperature == 0.0 and params.max_tokens == task.max_output_tokens
    assert params.output_kind is fake_vllm.RequestOutputKind.FINAL_ONLY
    assert params.structured_outputs.json == task.standard_schema
    assert "x-mkd-" in json.dumps(task.output_schema)  # the hints exist, and are not sent
    assert "x-mkd-" not in json.dumps(params.structured_outputs.json)
    assert params.structured_outputs.disable_any_whitespace  # compact JSON, as trained


def test_an_older_vllm_gets_guided_decoding_and_an_awaitable_tokenizer(fake, pack):
    fake(structured_outputs=False, async_tokenizer=True)
    engine = make(pack, max_new_tokens=2)
    (out,) = engine.generate([EngineItem("query_classifier", "q")])  # the blocking call
    params = engine.engine.requests[0]["params"]
    assert params.guided_decoding.json == pack.task("query_classifier").standard_schema
    assert params.structured_outputs is None and params.max_tokens == 2
    assert not hasattr(params.guided_decoding, "disable_any_whitespace")  # a version without it
    assert out.raw == '{"catego' and out.error.startswith("malformed JSON answer (length)")


def test_free_decoding_sends_no_schema(fake, pack):
    engine = make(pack, decoding="free")
    asyncio.run(engine.agenerate([EngineItem("query_classifier", "q")]))
    assert engine.engine.requests[0]["params"].structured_outputs is None


def test_each_task_gets_its_own_adapter_and_the_others_the_default(fake, pack):
    engine = make(pack, adapter="/a/all", task_adapters={"query_classifier": "/a/qc"})
    assert engine.engine.args.options["enable_lora"] is True
    items = [EngineItem("query_classifier", "q"), EngineItem("currency_identifier", "q")]
    asyncio.run(engine.agenerate(items))
    loras = {fake_vllm.task_tag(r["prompt"]): r["lora_request"] for r in engine.engine.requests}
    assert loras == {
        "query_classifier": fake_vllm.LoRARequest("task_query_classifier", 1, "/a/qc"),
        "currency_identifier": fake_vllm.LoRARequest("default", 2, "/a/all"),
    }


def test_no_adapter_sends_no_lora_request(fake, pack):
    engine = make(pack)
    asyncio.run(engine.agenerate([EngineItem("query_classifier", "q")]))
    assert engine.engine.requests[0]["lora_request"] is None


def test_usage_comes_from_the_request_output_and_the_prompt_is_tokenized_as_in_training(fake, pack):
    from mkd.models.loading import chat_prompt_ids
    from mkd.tasks import student_messages

    engine = make(pack, version="finance-student:3")
    (out,) = asyncio.run(engine.agenerate([EngineItem("query_classifier", "What is CPI?")]))
    task = pack.task("query_classifier")
    prompt = chat_prompt_ids(
        fake_vllm.Tokenizer(), student_messages(pack, task, "What is CPI?", None)
    )
    assert out.ok and out.value == {"category": "LOOKUP"}
    assert out.prompt_tokens == len(prompt) and prompt[0] != 1  # no extra BOS
    assert out.output_tokens == out.forwards == 6  # 21 characters, 4 a token
    assert engine.version == "finance-student:3"


def test_a_schema_breaking_answer_is_a_violation_and_an_unknown_task_an_error(fake, pack):
    engine = make(pack)
    bad, unknown = asyncio.run(
        engine.agenerate([EngineItem("currency_identifier", "q"), EngineItem("nope", "q")])
    )
    assert bad.value["currency"] == "nonsense" and bad.violation and not bad.ok
    assert unknown.error.startswith("unknown task 'nope'")
    assert len(engine.engine.requests) == 1  # the unknown task never reached the engine


def test_an_engine_error_is_that_items_error_and_the_others_are_answered(fake, pack):
    engine = make(pack)
    items = [
        EngineItem("query_classifier", "boom", id="req-7"),
        EngineItem("query_classifier", "q"),
    ]
    failed, fine = asyncio.run(engine.agenerate(items))
    assert failed.error == (
        "vllm request req-7-0: RuntimeError: CUDA error: an illegal memory access (fake)"
    )
    assert failed.output is None and fine.ok


def test_cancelling_a_call_aborts_its_requests_in_the_engine(fake, pack):
    engine = make(pack)

    async def give_up():
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(engine.agenerate([EngineItem("query_classifier", "slow")]), 0.1)
        await asyncio.sleep(0.05)  # the cancellation crosses to the engine's loop

    asyncio.run(give_up())
    assert engine.engine.aborted == [engine.engine.requests[0]["request_id"]]
    assert engine.engine.finished == []


def test_callers_on_different_event_loops_share_the_engines_own_loop(fake, pack):
    engine = make(pack)  # the fake refuses to be driven from a loop other than its first
    for _ in range(2):
        (out,) = asyncio.run(engine.agenerate([EngineItem("query_classifier", "q")]))
        assert out.ok
    assert engine.generate([EngineItem("query_classifier", "q")])[0].ok


def test_health_is_the_engines(fake, pack):
    engine = make(pack)
    asyncio.run(engine.check_health())
    engine.engine.dead = True
    with pytest.raises(RuntimeError, match="EngineDeadError"):
        asyncio.run(engine.check_health())


def test_the_offline_engine_answers_a_batch_in_one_chat_call(fake, pack):
    spec = EngineSpec(
        backend="vllm", model_uri="hf://acme/teacher", task_adapters={"query_classifier": "/a/qc"}
    )
    engine = VLLMEngine(spec, pack)
    items = [EngineItem("query_classifier", "q"), EngineItem("currency_identifier", "q")]
    good, bad = engine.generate(items)
    (call,) = engine.llm.calls
    assert good.ok and good.batch_size == 2 and bad.violation
    assert [p.structured_outputs.json for p in call["params"]] == [
        pack.task(i.task).standard_schema for i in items
    ]
    assert [lr and lr.lora_name for lr in call["lora_request"]] == ["task_query_classifier", None]
    assert engine.llm.options["enable_lora"] is True
