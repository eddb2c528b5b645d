"""vLLM's offline engine (`vllm.LLM`) on a GPU worker (the `gpu-serve` extra), and the parts
both vLLM engines share: engine arguments, per-task LoRA requests, JSON-Schema structured
outputs and the conversion of a `RequestOutput` into an `EngineOutput`.

The offline engine answers a whole batch in one call: the vllm teacher (Ray Data actors) and
batch evaluation use it. The Serve Student answers each request as it arrives through the
async engine (mkd.inference.vllm_async). vLLM is imported only when an engine is built (it
pulls a CUDA torch).
"""

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

EXTRA = "gpu-serve"  # the pyproject extra that installs vllm (GPU images only)


def structured(schema: dict[str, Any]) -> dict[str, Any]:
    """SamplingParams keyword that constrains decoding to `schema`, across vLLM versions:
    `structured_outputs=StructuredOutputsParams(json=...)` (vLLM >= 0.10.2), else
    `guided_decoding=GuidedDecodingParams(json=...)` (the field was removed in 0.12).

    Whitespace between JSON tokens is disabled where the version knows the switch: the student
    was trained on compact JSON, and a grammar that allows any whitespace lets it drift into
    spaces and newlines it never saw (longer answers, answers unlike the teacher's)."""
    try:
        from vllm.sampling_params import StructuredOutputsParams as Params

        key = "structured_outputs"
    except ImportError:
        from vllm.sampling_params import GuidedDecodingParams as Params

        key = "guided_decoding"
    compact = (
        {"disable_any_whitespace": True} if _has_field(Params, "disable_any_whitespace") else {}
    )
    return {key: Params(json=schema, **compact)}


def _has_field(cls: Any, name: str) -> bool:
    fields = getattr(cls, "__dataclass_fields__", None) or getattr(cls, "model_fields", None)
    return name in (fields or {}) or name in getattr(cls, "__struct_fields__", ())


def model_path(spec: EngineSpec) -> str:
    """The weights vLLM loads: a directory, or the .gguf file of a GGUF model."""
    from mkd.models.uris import resolve_model_uri

    ref = resolve_model_uri(spec.model_uri)
    return str(Path(ref.path) / ref.gguf_file) if ref.gguf_file else ref.path


def engine_options(spec: EngineSpec) -> dict[str, Any]:
    """Engine arguments (vllm.LLM / AsyncEngineArgs) besides the model; `spec.options` wins."""
    return {
        "dtype": spec.dtype,
        "enable_lora": bool(spec.task_adapters or spec.adapter),
        "enable_prefix_caching": True,  # every prompt of a task shares its prefix
        "seed": 0,
        **spec.options,
    }


def lora_requests(spec: EngineSpec) -> tuple[dict[str, Any], Any]:
    """One LoRARequest per task adapter (ids 1..n, by task name) and the default adapter's."""
    from vllm.lora.request import LoRARequest

    adapters = sorted(spec.task_adapters.items())
    per_task = {task: LoRARequest(f"task_{task}", i + 1, path) for i, (task, path) in enumerate(adapters)}  # fmt: skip
    default = LoRARequest("default", len(per_task) + 1, spec.adapter) if spec.adapter else None
    return per_task, default


def sampling_params(spec: EngineSpec, task: TaskSpec, **extra: Any) -> Any:
    """Greedy at spec.temperature, capped at the task's answer budget, constrained to the task's
    standard schema (without MKD's x-mkd-* hints) when decoding is constrained."""
    from vllm import SamplingParams

    constrain = structured(task.standard_schema) if spec.decoding == "constrained" else {}
    return SamplingParams(
        temperature=spec.temperature,
        max_tokens=spec.max_new_tokens or task.max_output_tokens,
        **constrain,
        **extra,
    )


def to_output(task: TaskSpec, reply: Any, latency_s: float, batch_size: int) -> EngineOutput:
    """A finished `RequestOutput` as an EngineOutput: its text parsed and checked against the
    schema, its prompt and completion token counts, one forward per output token."""
    completion = reply.outputs[0]
    out = EngineOutput(
        task.name,
        prompt_tokens=len(reply.prompt_token_ids or []),
        output_tokens=len(completion.token_ids or []),
        latency_s=latency_s,
        batch_size=batch_size,
    )
    out.forwards = out.output_tokens
    return finish(task, out, completion.text, str(completion.finish_reason))


class VLLMEngine:
    """One offline `vllm.LLM` in this process (one engine per actor or GPU set).

    Args:
        spec: model_uri (hf://ORG/NAME, a directory or a GGUF), adapter / task_adapters (LoRA),
            dtype, temperature, max_new_tokens, prompt, options (extra vllm.LLM arguments:
            tensor_parallel_size, gpu_memory_utilization, max_num_seqs, quantization...).
        pack: the task pack.
        llm: an already built `vllm.LLM` (tests, or one engine shared between callers).

    Raises:
        EngineUnavailable: vllm is not installed (pip install 'mkd[gpu-serve]', GPU nodes only).
    """

    backend = "vllm"

    def __init__(self, spec: EngineSpec, pack: TaskPack, llm: Any = None) -> None:
        vllm = require("vllm", self.backend, EXTRA)
        self.spec, self.pack = spec, pack
        self.version = spec.version or spec.model_uri
        self.llm = (
            llm if llm is not None else vllm.LLM(model=model_path(spec), **engine_options(spec))
        )
        self.lora, self.default_lora = lora_requests(spec)

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
            sampling_params=[sampling_params(self.spec, t) for t in tasks],
            use_tqdm=False,
            **kwargs,
        )
        per_item = (time.perf_counter() - started) / len(items)
        return [
            to_output(task, reply, per_item, len(items))
            for task, reply in zip(tasks, replies, strict=True)
        ]
