"""Export: master, nf4 and GGUF variants of a tiny adapter; tolerance refusals; the registry."""

from __future__ import annotations

import pytest
from mkd.config.export import OllamaSettings
from mkd.export.gguf import llama_cpp_available, modelfile
from mkd.export.job import _judge, export_markdown, run_export
from mkd.registry import Registry
from mkd.storage import open_store


def _variant(score: float) -> dict:
    return {"status": "built", "overall": {"score": score}, "tasks": {}, "size_bytes": 1}


def test_a_variant_that_drops_beyond_the_tolerance_is_refused():
    variants = {"master": _variant(0.96), "gguf-q8_0": _variant(0.95), "gguf-Q4_1": _variant(0.40)}
    _judge(variants, tolerance=0.03)
    assert variants["master"]["status"] == "accepted"
    assert variants["gguf-q8_0"]["status"] == "accepted"
    assert variants["gguf-Q4_1"]["status"] == "refused"
    assert "fell 0.560 below the master" in variants["gguf-Q4_1"]["reason"]
    md = export_markdown({"source": "m:1", "tolerance": 0.03, "variants": variants})
    assert "| gguf-Q4_1 | refused |" in md


def test_modelfile_points_at_the_gguf_with_greedy_json_settings():
    text = modelfile("model.gguf", OllamaSettings())
    assert text.startswith("FROM ./model.gguf\n")
    assert "PARAMETER temperature 0.0" in text and 'PARAMETER stop "<|im_end|>"' in text


@pytest.mark.slow
def test_export_builds_evaluates_and_registers_variants(eval_config):
    from mkd.evaluation.job import run_evaluation

    run_evaluation(eval_config.model_copy(
        update={"evaluation": eval_config.evaluation.model_copy(
            update={"compare_base": False, "compare_teacher": False})}
    ))  # fmt: skip
    variants = ["master", "nf4", "gguf-q8_0", "gguf-Q4_K_M"]
    cfg = eval_config.model_copy(
        update={"export": eval_config.export.model_copy(
            update={"model": "finance-student:1", "variants": variants, "max_items_per_task": 1,
                    "tolerance": 1.0})}
    )  # fmt: skip
    outcome = run_export(cfg)
    v = outcome.variants
    assert v["master"]["status"] == "accepted" and v["nf4"]["status"] == "accepted"
    assert v["gguf-q8_0"]["status"] == "accepted"  # loaded back by transformers and evaluated
    assert v["nf4"]["size_bytes"] < v["master"]["size_bytes"]
    assert v["gguf-q8_0"]["size_bytes"] < v["master"]["size_bytes"]
    if llama_cpp_available():
        assert v["gguf-Q4_K_M"]["status"] == "accepted"
    else:
        assert v["gguf-Q4_K_M"]["status"] == "skipped"
        assert "llama-cpp-python" in v["gguf-Q4_K_M"]["reason"]
    registry = Registry(open_store(cfg.store))
    registered = {mv.manifest["variant"]: mv for mv in registry.list("finance-student")[1:]}
    assert set(registered) >= {"master", "nf4", "gguf-q8_0"}
    q8 = registered["gguf-q8_0"].manifest
    assert {"model.gguf", "Modelfile", "README.md"} <= set(q8["files"])
    assert q8["parent"] == "finance-student:1" and q8["training_run"] == "run-1"
    assert q8["eval"]["tasks"] and q8["base_model"]["uri"]
    assert "master/model.safetensors" in registered["master"].manifest["files"]


@pytest.mark.slow
def test_nf4_keeps_layers_too_narrow_for_the_cpu_kernel_in_full_precision(tmp_path, tiny_base):
    """bitsandbytes repacks 4-bit weights for its CPU kernel only on AVX-512-BF16 hosts, so the
    packing is run here directly: a green run on an AVX2 host must not hide a narrow layer."""
    import bitsandbytes as bnb
    from bitsandbytes.functional import _convert_weight_packed_for_cpu
    from mkd.export.nf4 import quantize_nf4, unpackable_linears
    from transformers import AutoModelForCausalLM

    narrow = unpackable_linears(tiny_base)
    # hidden 32, intermediate 64: only down_proj (64 inputs, 32 outputs) fits.
    assert "model.layers.0.self_attn.k_proj" in narrow
    assert "model.layers.0.mlp.down_proj" not in narrow
    model = AutoModelForCausalLM.from_pretrained(quantize_nf4(tiny_base, tmp_path / "nf4"))
    quantized = {n: m for n, m in model.named_modules() if isinstance(m, bnb.nn.Linear4bit)}
    assert quantized and not set(narrow) & set(quantized)
    for module in quantized.values():
        _convert_weight_packed_for_cpu(module.weight.data, module.weight.quant_state)
