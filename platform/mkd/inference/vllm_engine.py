"""vLLM offline inference on a GPU worker (the `gpu` extra): continuous batching, multi-LoRA per
task, JSON-Schema structured outputs. The one vLLM shim: the vllm teacher and the GPU Student
both run it. vLLM is imported only when an engine is built (it pulls a CUDA torch)."""

from __future__ import annotations

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
from mkd.tasks import TaskPack, TaskSpec


def structured(schema: dict[str, Any]) -> dict[str, Any]:
    """SamplingParams keyword that constrains decoding to `schema`, across vLLM versions."""
    try:  # vLLM >= 0.10.2 (the guided_* fields were removed in 0.12)
        from vllm.sampling_params import StructuredOutputsParams

        return {"structured_outputs": StructuredOutputsParams(json=schema)}
    except ImportError:
        from vllm.sampling_params import GuidedDecodingParams

        return {"guided_decoding": GuidedDecodingParams(json=schema)}


class VLLMEngine:
    """One `vllm.LLM` in this process (one engine per actor or GPU set).

    Args:
        spec: model_uri (hf://ORG/NAME, a directory or a GGUF), adapter / task_adapters (LoRA),
            dtype, temperature, max_new_tokens, prompt, options (extra vllm.LLM arguments:
            tensor_parallel_size, gpu_memory_utilization, max_num_seqs, quantization...).
        pack: the task pack.
        llm: an already built `vllm.LLM` (tests, or one engine shared between callers).

    Raises:
        EngineUnavailable: vllm is not installed (pip install 'mkd[gpu]', GPU nodes only).
    """

    backend = "vllm"

    def __init__(self, spec: EngineSpec, pack: TaskPack, llm: Any = None) -> None:
        vllm = require("vllm", self.backend, "gpu")
        self.spec, self.pack = spec, pack
        self.version = spec.version or spec.model_uri
        adapters = dict(spec.task_adapters)
        if llm is None:
            from mkd.models.uris import resolve_model_uri

            ref = resolve_model_uri(spec.model_uri)
            model = str(Path(ref.path) / ref.gguf_file) if ref.gguf_file else ref.path
            options = {
                "dtype": spec.dtype,
                "enable_lora": bool(adapters or spec.adapter),
                "enable_prefix_caching": True,  # every prompt of a task shares its prefix
                "seed": 0,
                **spec.options,
            }
            llm = vllm.LLM(model=model, **options)
        self.llm = llm
        from vllm.lora.request import LoRARequest

        self.lora = {
            task: LoRARequest(f"task_{task}", i + 1, path)
            for i, (task, path) in enumerate(sorted(adapters.items()))
        }
        self.default_lora = (
            LoRARequest("default", len(self.lora) + 1, spec.adapter) if spec.adapter else None
        )

    def _params(self, task: TaskSpec) -> Any:
        from vllm import SamplingParams

        constrain = structured(task.standard_schema) if self.spec.decoding == "constrained" else {}
        return SamplingParams(
            temperature=self.spec.temperature,
            max_tokens=self.spec.max_new_tokens or task.max_output_tokens,
            **constrain,
        )

    def generate(self, items: Sequence[EngineItem]) -> list[EngineOutput]:
        """One engine call for the whole batch (vLLM schedules it with continuous batching)."""
        return in_order(items, self.pack, lambda idx: self._answer([items[i] for i in idx]))

    def _answer(self, items: list[EngineItem]) -> list[EngineOutput]:
        tasks = [self.pack.task(i.task) for i in items]
        started = time.perf_counter()
        kwargs = {}
        if self.lora or self.default_lora:
            kwargs["lora_request"] = [self.lora.get(i.task, self.default_lora) for i in items]
        replies = self.llm.chat(
            [
                messages_for(self.pack, t, i, self.spec.prompt)
                for t, i in zip(tasks, items, strict=True)
            ],
            sampling_params=[self._params(t) for t in tasks],
            use_tqdm=False,
            **kwargs,
        )
        per_item = (time.perf_counter() - started) / len(items)
        outs = []
        for task, reply in zip(tasks, replies, strict=True):
            completion = reply.outputs[0]
            out = EngineOutput(
                task.name,
                prompt_tokens=len(reply.prompt_token_ids or []),
                output_tokens=len(completion.token_ids or []),
                latency_s=per_item,
                batch_size=len(items),
            )
            out.forwards = out.output_tokens
            outs.append(finish(task, out, completion.text, str(completion.finish_reason)))
        return outs
