"""transformers causal LM (base, + PEFT adapters, merged master, nf4, GGUF dequantised) under
MKD's constrained decoder (mkd.decoding), or plain greedy generate ("free" decoding)."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from mkd.inference.base import (
    EngineItem,
    EngineOutput,
    EngineSpec,
    finish,
    in_order,
    messages_for,
)
from mkd.tasks import TaskPack

log = logging.getLogger(__name__)


class TransformersEngine:
    """Greedy answers from a transformers model; several per-task adapters may share a batch.

    Args:
        spec: model_uri, adapter (merged when spec.merge_adapter), task_adapters, dtype,
            quantization ("nf4", "int8"), runtime, decoding, jump_forward, threads,
            max_new_tokens, prompt.
        pack: the task pack.
        model, tokenizer: an already loaded pair (tests, the hf teacher's injected model).
    """

    backend = "transformers"

    def __init__(
        self, spec: EngineSpec, pack: TaskPack, model: Any = None, tokenizer: Any = None
    ) -> None:
        import torch

        if spec.threads:
            torch.set_num_threads(spec.threads)
        self.spec, self.pack = spec, pack
        self.version = spec.version or spec.model_uri
        self.dtype = resolve_dtype(spec.dtype)
        if model is None:
            model, tokenizer = load_transformers(spec, self.dtype)
        self.adapter_of: dict[str, str] = {}
        if spec.task_adapters:
            model = self._load_task_adapters(model)
        self.model, self.tokenizer = model, tokenizer
        self.decoder = None
        self.runtime = f"transformers {self.dtype}"
        if spec.decoding == "constrained":
            from mkd.decoding import ConstrainedDecoder

            why_not = "per-task adapters in one batch" if self.adapter_of else None
            decoding, self.runtime = decoding_model(model, spec, self.dtype, why_not)
            self.decoder = ConstrainedDecoder(decoding, tokenizer, jump_forward=spec.jump_forward)

    def _load_task_adapters(self, model: Any) -> Any:
        from peft import PeftModel

        for i, (task, path) in enumerate(sorted(self.spec.task_adapters.items())):
            name = f"task_{task}"
            if i == 0 and not isinstance(model, PeftModel):
                model = PeftModel.from_pretrained(model, path, adapter_name=name)
            else:
                model.load_adapter(path, adapter_name=name)
            self.adapter_of[task] = name
        return model.eval()

    def prompt_ids(self, item: EngineItem) -> list[int]:
        from mkd.models.loading import chat_prompt_ids

        task = self.pack.task(item.task)
        return chat_prompt_ids(
            self.tokenizer, messages_for(self.pack, task, item, self.spec.prompt)
        )

    def generate(self, items: Sequence[EngineItem]) -> list[EngineOutput]:
        """Answer the batch in one decode (unknown tasks come back as item errors)."""
        return in_order(items, self.pack, lambda idx: self._answer([items[i] for i in idx]))

    def _answer(self, items: list[EngineItem]) -> list[EngineOutput]:
        tasks = [self.pack.task(i.task) for i in items]
        budgets = [self.spec.max_new_tokens or t.max_output_tokens for t in tasks]
        started = time.perf_counter()
        if self.decoder is None:
            outs = self._free(items, tasks, max(budgets))
        else:
            outs = self._constrained(items, tasks, budgets)
        per_item = (time.perf_counter() - started) / len(items)
        for out in outs:
            out.latency_s, out.batch_size = per_item, len(items)
        return outs

    def _constrained(self, items: list, tasks: list, budgets: list[int]) -> list[EngineOutput]:
        extra = {}
        if self.adapter_of:  # PEFT mixed-adapter batch; "__base__" rows use the base weights
            extra["adapter_names"] = [self.adapter_of.get(i.task, "__base__") for i in items]
        prompts = [self.prompt_ids(i) for i in items]
        results = self.decoder.decode(
            prompts,
            [t.output_schema for t in tasks],
            budgets,
            forward_kwargs=extra,
            spans=[i.input for i in items] if self.spec.copy_spans else None,
        )
        outs = []
        for prompt, task, r in zip(prompts, tasks, results, strict=True):
            # the answer's length in tokens, as billed: bytes the grammar fixed are output too,
            # though jump-forward spent no forward on them (DecodeResult.tokens leaves some out)
            billed = len(self.tokenizer(r.text, add_special_tokens=False)["input_ids"])
            out = EngineOutput(task.name, prompt_tokens=len(prompt), output_tokens=billed)
            out.forwards = r.forwards
            if r.ok:
                outs.append(finish(task, out, r.text))
            else:
                out.raw, out.error = r.text, r.error or "no answer"
                outs.append(out)
        return outs

    def _free(self, items: list, tasks: list, budget: int) -> list[EngineOutput]:
        from mkd.models.loading import generate_counted

        conversations = [
            messages_for(self.pack, t, i, self.spec.prompt)
            for t, i in zip(tasks, items, strict=True)
        ]
        texts, prompt_tokens, output_tokens = generate_counted(
            self.model, self.tokenizer, conversations, budget
        )
        return [
            finish(task, EngineOutput(task.name, prompt_tokens=p, output_tokens=o), text)
            for task, text, p, o in zip(tasks, texts, prompt_tokens, output_tokens, strict=True)
        ]


def decoding_model(
    model: Any, spec: EngineSpec, dtype: str, why_not: str | None = None
) -> tuple[Any, str]:
    """(what the constrained decoder calls, its description): a LeanLlama of `model` where
    `spec.runtime` allows it and it reproduces the model, else the model itself (logged).

    Raises:
        ValueError: runtime "lean" for a model it cannot run (`why_not` or unsupported()).
    """
    plain = f"transformers {dtype}"
    if spec.runtime == "transformers":
        return model, plain
    from mkd.models.lean_llama import LeanLlama, unsupported

    reason = why_not or unsupported(model)
    if reason:
        if spec.runtime == "lean":
            raise ValueError(f"runtime 'lean' cannot run this model: {reason}")
        log.info("constrained decoding through transformers' modules: %s", reason)
        return model, plain
    lean = LeanLlama(model, dtype, int8_decode=spec.quantization == "int8")
    runtime = f"lean {dtype}" + (" + int8 decode" if lean.int8_decode else "")
    log.info("constrained decoding through %s", runtime)
    return lean, runtime


def resolve_dtype(dtype: str) -> str:
    """A spec's dtype as a torch dtype name: "auto" is bfloat16 where this processor has bf16
    instructions, float32 elsewhere (mkd.hardware.cpu_dtype)."""
    from mkd.hardware import cpu_dtype

    return cpu_dtype("auto") if dtype == "auto" else dtype


def load_transformers(spec: EngineSpec, dtype: str | None = None) -> tuple[Any, Any]:
    """The model and tokenizer a spec names, in `dtype` (default: the spec's, resolved); an
    adapter is merged when spec.merge_adapter."""
    if spec.quantization == "nf4":
        return load_nf4(spec.model_uri)
    from mkd.models import load_student

    dtype = dtype or resolve_dtype(spec.dtype)
    return load_student(spec.model_uri, spec.adapter, dtype=dtype, merge=spec.merge_adapter)


def load_nf4(directory: str) -> tuple[Any, Any]:
    """A bitsandbytes 4-bit checkpoint: its config carries the quantization settings."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(directory)
    tokenizer.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(directory, device_map="cpu")
    model.eval()
    return model, tokenizer
