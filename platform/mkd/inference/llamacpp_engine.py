"""A GGUF through llama-cpp-python (the `edge` extra), constrained by a JSON-Schema grammar:
the engine that serves an exported GGUF, so evaluation can score it as served."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mkd.inference.base import (
    EngineItem,
    EngineOutput,
    EngineSpec,
    finish,
    in_order,
    messages_for,
    require,
)
from mkd.tasks import TaskPack


class LlamaCppEngine:
    """llama.cpp decodes one sequence at a time through its Python API.

    Args:
        spec: model_uri (a .gguf or a gguf URI), adapter (a GGUF LoRA from
            convert_lora_to_gguf), threads, max_new_tokens, prompt, decoding, options
            (extra llama_cpp.Llama arguments: n_ctx, n_threads...).
        pack: the task pack.

    Raises:
        EngineUnavailable: llama_cpp is not installed (pip install 'mkd[edge]').
        ValueError: model_uri names no GGUF file.
    """

    backend = "llamacpp"

    def __init__(self, spec: EngineSpec, pack: TaskPack) -> None:
        llama_cpp = require("llama_cpp", self.backend, "edge")
        from mkd.models.uris import resolve_model_uri

        ref = resolve_model_uri(spec.model_uri)
        if not ref.gguf_file:
            raise ValueError(f"model_uri {spec.model_uri!r}: the llamacpp engine needs a GGUF file")
        options = {"n_ctx": 2048, "verbose": False, **spec.options}
        if spec.threads:
            options.setdefault("n_threads", spec.threads)
        if spec.adapter:
            options["lora_path"] = spec.adapter
        self.llm = llama_cpp.Llama(model_path=str(Path(ref.path) / ref.gguf_file), **options)
        self.spec, self.pack = spec, pack
        self.version = spec.version or spec.model_uri
        self.grammars = {}
        if spec.decoding == "constrained":
            self.grammars = {
                name: llama_cpp.LlamaGrammar.from_json_schema(
                    json.dumps(llama_cpp_schema(t.standard_schema)), verbose=False
                )
                for name, t in pack.tasks.items()
            }

    def generate(self, items: Sequence[EngineItem]) -> list[EngineOutput]:
        return in_order(items, self.pack, lambda idx: [self._one(items[i]) for i in idx])

    def _one(self, item: EngineItem) -> EngineOutput:
        task = self.pack.task(item.task)
        started = time.perf_counter()
        reply = self.llm.create_chat_completion(
            messages=messages_for(self.pack, task, item, self.spec.prompt),
            grammar=self.grammars.get(item.task),
            temperature=self.spec.temperature,
            max_tokens=self.spec.max_new_tokens or task.max_output_tokens,
        )
        usage = reply.get("usage") or {}
        out = EngineOutput(
            item.task,
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            output_tokens=int(usage.get("completion_tokens") or 0),
        )
        out.forwards = out.output_tokens  # one forward per generated token
        out.latency_s = time.perf_counter() - started
        return finish(task, out, reply["choices"][0]["message"]["content"])


def llama_cpp_schema(schema: Any) -> Any:
    """`schema` with every `pattern`'s `\\d` written `[0-9]`: llama-cpp-python's JSON-Schema
    to GBNF converter copies `\\d` into the grammar as an escape GBNF does not know (the
    date task's `^\\d{4}-\\d{2}-\\d{2}$` made the whole grammar fail to parse)."""
    if isinstance(schema, dict):
        return {
            k: v.replace("\\d", "[0-9]") if k == "pattern" and isinstance(v, str)
            else llama_cpp_schema(v)
            for k, v in schema.items()
        }  # fmt: skip
    if isinstance(schema, list):
        return [llama_cpp_schema(v) for v in schema]
    return schema
