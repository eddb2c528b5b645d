"""Backend name -> engine class, imported only when asked for (GPU code stays off CPU nodes)."""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

from mkd.inference.base import Engine, EngineSpec
from mkd.tasks import TaskPack

ENGINES: dict[str, str] = {
    "transformers": "mkd.inference.transformers_engine:TransformersEngine",
    "llamacpp": "mkd.inference.llamacpp_engine:LlamaCppEngine",
    "vllm": "mkd.inference.vllm_engine:VLLMEngine",
    "vllm-async": "mkd.inference.vllm_async:AsyncVLLMEngine",
    "openai": "mkd.inference.openai_engine:OpenAIEngine",
    "reference": "mkd.inference.reference_engine:ReferenceEngine",
}
AUTO = "auto"
# What the Serve Student runs for a backend name: it answers requests as they arrive, so a
# backend with an async engine (continuous batching across requests) serves through it; the
# batch engine stays for labeling and evaluation.
SERVING_ENGINES: dict[str, str] = {"vllm": "vllm-async"}


def engine_class(backend: str) -> type:
    """The engine class registered under `backend`.

    Raises:
        ValueError: an unknown name (the message lists the known ones).
    """
    if backend not in ENGINES:
        known = ", ".join(sorted(ENGINES))
        raise ValueError(f"engine backend {backend!r}: unknown (known: {known}, {AUTO})")
    module, _, name = ENGINES[backend].partition(":")
    return getattr(importlib.import_module(module), name)


def serving_engine_class(backend: str) -> type:
    """The engine class the Serve Student builds for `backend` (SERVING_ENGINES, else the
    registered one)."""
    return engine_class(SERVING_ENGINES.get(backend, backend))


def llama_cpp_installed() -> bool:
    return importlib.util.find_spec("llama_cpp") is not None


def resolve_backend(spec: EngineSpec) -> str:
    """The backend that will run `spec`: "auto" serves a GGUF as it is served, through
    llama.cpp, when llama_cpp is installed in this process, and through transformers
    (dequantised) otherwise; every other name is itself."""
    if spec.backend != AUTO:
        return spec.backend
    gguf = _is_gguf(spec.model_uri) and not spec.adapter and not spec.task_adapters
    return "llamacpp" if gguf and llama_cpp_installed() else "transformers"


def _is_gguf(uri: str) -> bool:
    from mkd.models.uris import resolve_model_uri

    try:
        return bool(resolve_model_uri(uri).gguf_file)
    except (FileNotFoundError, ValueError):
        return False


def make_engine(spec: EngineSpec, pack: TaskPack, **injected: Any) -> Engine:
    """Build the engine `spec.backend` names (after resolve_backend), its model loaded.

    Args:
        spec: what to load.
        pack: the task pack (prompts, schemas).
        injected: backend-specific ready-made parts (tests, shared engines): e.g. `model` and
            `tokenizer` for transformers, `llm` for vllm, `endpoint` for openai.
    """
    return engine_class(resolve_backend(spec))(spec, pack, **injected)
