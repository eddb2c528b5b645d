"""One engine layer: an `Engine` answers (task, query, context) items with schema-checked
outputs, token counts and timings, whatever runs the model.

    from mkd.inference import EngineItem, EngineSpec, make_engine
    engine = make_engine(EngineSpec(backend="transformers", model_uri=uri), pack)
    engine.generate([EngineItem("query_classifier", "What is EBITDA?")])

Backends (mkd.inference.registry.ENGINES), each in its own module and importing its library
only when built: transformers (+ mkd.decoding), llamacpp (edge extra), vllm (offline batches)
and vllm-async (serving: continuous batching; both need the gpu-serve extra), openai (an
OpenAI-compatible endpoint), reference (the deterministic reference labeler).
"""

from mkd.inference.base import (
    AsyncEngine,
    Decoding,
    Engine,
    EngineItem,
    EngineOutput,
    EngineSpec,
    EngineUnavailable,
    EvalDecoding,
    PromptStyle,
    strip_fences,
)
from mkd.inference.registry import (
    AUTO,
    ENGINES,
    engine_class,
    llama_cpp_installed,
    make_engine,
    resolve_backend,
    serving_engine_class,
)

__all__ = [
    "AUTO",
    "ENGINES",
    "AsyncEngine",
    "Decoding",
    "Engine",
    "EngineItem",
    "EngineOutput",
    "EngineSpec",
    "EngineUnavailable",
    "EvalDecoding",
    "PromptStyle",
    "engine_class",
    "llama_cpp_installed",
    "make_engine",
    "resolve_backend",
    "serving_engine_class",
    "strip_fences",
]
