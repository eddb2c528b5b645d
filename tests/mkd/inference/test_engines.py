"""The engines that run here (reference, transformers on a tiny model), and the hf teacher, an
adapter over the transformers engine."""

from __future__ import annotations

import pytest
from mkd.config.teacher import TeacherConfig
from mkd.inference import EngineItem, EngineSpec, make_engine
from mkd.records import canonical_json
from mkd.teachers.base import LabelRequest

ITEMS = [
    EngineItem("currency_identifier", "Indian startups with more than ₹1,000 crore in ARR"),
    EngineItem("date_interpretation", "since 2023", {"as_of": "2026-01-15"}),
    EngineItem("sentiment", "hello"),
]


def test_reference_engine_answers_valid_outputs_with_costs_and_item_errors(pack):
    engine = make_engine(EngineSpec(backend="reference"), pack)
    assert engine.backend == "reference" and engine.version.startswith("reference/")
    currency, dates, unknown = engine.generate(ITEMS)
    assert currency.ok and currency.output == {
        "currency": "INR",
        "mention": "explicit",
        "symbol": "₹",
    }
    assert currency.raw == canonical_json(currency.output)
    assert currency.prompt_tokens > 100 and currency.output_tokens > 0
    assert dates.output[0]["start"] == "2023-01-01"
    assert unknown.output is None and "unknown task 'sentiment'" in unknown.problem


def test_transformers_engine_reports_tokens_timings_and_batch(tiny_base, pack):
    spec = EngineSpec(model_uri=str(tiny_base), max_new_tokens=8, version="tiny")
    engine = make_engine(spec, pack)
    outs = engine.generate(ITEMS)
    assert engine.version == "tiny" and [o.task for o in outs] == [i.task for i in ITEMS]
    for out in outs[:2]:  # under the grammar: valid or a stated problem, never both
        assert (out.output is None) == (out.problem is not None)
        assert out.prompt_tokens > 0 and out.output_tokens > 0 and out.latency_s > 0
        assert out.batch_size == 2  # the unknown task never reached the model
    assert "unknown task" in outs[2].problem


def test_constrained_decoding_runs_lean_with_the_same_answers_as_transformers(
    tiny_base, tiny_adapter, pack
):
    items = [EngineItem(t, "Revenue of Infosys in rupees since 2023") for t in pack.tasks]
    items.append(ITEMS[0])

    def engine(runtime: str, **kw):
        spec = EngineSpec(model_uri=str(tiny_base), max_new_tokens=12, runtime=runtime, **kw)
        return make_engine(spec, pack)

    lean, plain = engine("auto"), engine("transformers")
    assert lean.runtime == "lean float32" and plain.runtime == "transformers float32"
    assert [o.raw for o in lean.generate(items)] == [o.raw for o in plain.generate(items)]
    # an adapter is folded in first (merge_adapter); per-task adapters keep transformers
    merged = engine("auto", adapter=str(tiny_adapter), merge_adapter=True)
    assert merged.runtime == "lean float32"
    per_task = engine("auto", task_adapters={"query_classifier": str(tiny_adapter)})
    assert per_task.runtime == "transformers float32"
    with pytest.raises(ValueError, match="runtime 'lean' cannot run this model: per-task"):
        engine("lean", task_adapters={"query_classifier": str(tiny_adapter)})


def test_the_fewshot_prompt_is_the_teachers(tiny_base, pack):
    short = make_engine(EngineSpec(model_uri=str(tiny_base), max_new_tokens=2), pack)
    fewshot = make_engine(
        EngineSpec(model_uri=str(tiny_base), max_new_tokens=2, prompt="fewshot"), pack
    )
    item = ITEMS[:1]
    assert fewshot.generate(item)[0].prompt_tokens > 3 * short.generate(item)[0].prompt_tokens


@pytest.mark.slow
def test_hf_teacher_labels_through_the_transformers_engine(tiny_base, pack):
    from mkd.teachers.hf_backend import HFTeacher

    cfg = TeacherConfig(backend="hf", model_uri=str(tiny_base), batch_size=2, max_tokens=6)
    teacher = HFTeacher(cfg, pack)
    assert teacher.backend == "transformers" and teacher.teacher_id == f"hf:{tiny_base}"
    results = teacher.label(
        [LabelRequest(str(n), i.task, i.input, i.context) for n, i in enumerate(ITEMS)]
    )
    assert [r.id for r in results] == ["0", "1", "2"]
    # a random model writes no JSON: each item is an error with its raw text and its usage
    assert all(r.error for r in results)
    assert results[0].raw is not None and results[0].usage.prompt_tokens > 100
    assert "unknown task" in results[2].error


def test_reference_engine_runs_any_packs_teacher_through_its_label_api():
    """The support example pack's teacher is a plain TeacherBackend, not an engine."""
    from pathlib import Path

    from mkd.tasks import load_pack

    support = load_pack(str(Path(__file__).parents[3] / "examples" / "packs" / "support"))
    engine = make_engine(EngineSpec(backend="reference"), support)
    [triage] = engine.generate([EngineItem("ticket_triage", "I was charged $49.99 twice")])
    assert triage.ok and triage.output["category"] == "BILLING"
    assert triage.output["amount"] == 49.99


def test_reference_engine_needs_a_pack_that_names_a_teacher(pack):
    from mkd.inference.reference_engine import ReferenceEngine

    bare = pack.model_copy(update={"plugins": pack.plugins.model_copy(
        update={"reference_teacher": None})})  # fmt: skip
    with pytest.raises(ValueError, match=r"plugins\.reference_teacher"):
        ReferenceEngine(None, bare)


def test_llama_cpp_gets_digit_classes_it_can_compile_in_every_task_schema(pack):
    from mkd.inference.llamacpp_engine import llama_cpp_schema

    dates = pack.task("date_interpretation").standard_schema
    rewritten = llama_cpp_schema(dates)
    assert "\\d" in str(dates) and "\\d" not in str(rewritten)
    assert "[0-9]{4}-[0-9]{2}-[0-9]{2}" in str(rewritten)
    pytest.importorskip("llama_cpp", reason="llama-cpp-python (edge extra) absent")
    import json

    from llama_cpp.llama_grammar import json_schema_to_gbnf

    for task in pack.tasks.values():  # GBNF has no \d escape: llama.cpp refused the grammar
        gbnf = json_schema_to_gbnf(json.dumps(llama_cpp_schema(task.standard_schema)))
        assert "\\d" not in gbnf and "root ::=" in gbnf
