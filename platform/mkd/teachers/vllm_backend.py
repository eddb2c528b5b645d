"""The `vllm` teacher: offline batch inference on a GPU worker with JSON-schema structured outputs.

Selected by `teacher.backend: vllm` and run inside a Ray Data actor that holds a GPU
(`data.actor_num_gpus: 1`). vLLM is imported here only, never at module import time elsewhere:
it cannot be installed on CPU machines (it pulls a CUDA torch).
"""

from __future__ import annotations

import json
from typing import Any

from mkd.config.teacher import TeacherConfig
from mkd.tasks import TaskPack, TaskSpec, teacher_messages
from mkd.teachers.base import LabelRequest, LabelResult, Usage


def _structured(schema: dict[str, Any]) -> dict[str, Any]:
    """SamplingParams keyword that constrains decoding to `schema`, across vLLM versions."""
    try:  # vLLM >= 0.10.2 (the guided_* fields were removed in 0.12)
        from vllm.sampling_params import StructuredOutputsParams

        return {"structured_outputs": StructuredOutputsParams(json=schema)}
    except ImportError:
        from vllm.sampling_params import GuidedDecodingParams

        return {"guided_decoding": GuidedDecodingParams(json=schema)}


class VLLMTeacher:
    """Labels with a vLLM engine in this process (one engine per actor/GPU set).

    Args:
        cfg: teacher section: model_uri (hf://ORG/NAME or a local directory),
            tensor_parallel_size, temperature, max_tokens, price.
        pack: task pack for prompts and schemas.
        llm: an already built `vllm.LLM` (tests, or sharing one engine between teachers).
    """

    def __init__(self, cfg: TeacherConfig, pack: TaskPack, llm: Any = None) -> None:
        self.cfg, self.pack = cfg, pack
        self.teacher_id = cfg.teacher_id
        if llm is None:
            from vllm import LLM

            from mkd.models.uris import resolve_model_uri

            ref = resolve_model_uri(cfg.model_uri)
            model = f"{ref.path}/{ref.gguf_file}" if ref.gguf_file else ref.path
            llm = LLM(
                model=model,
                tensor_parallel_size=cfg.tensor_parallel_size,
                max_num_seqs=max(cfg.batch_size, 1),
                enable_prefix_caching=True,  # every prompt of a task shares its few-shot prefix
                seed=0,
            )
        self.llm = llm

    def _params(self, task: TaskSpec) -> Any:
        from vllm import SamplingParams

        return SamplingParams(
            temperature=self.cfg.temperature,
            max_tokens=self.cfg.max_tokens or task.max_output_tokens,
            **_structured(task.output_schema),
        )

    def label(self, batch: list[LabelRequest]) -> list[LabelResult]:
        """One engine call for the whole batch (vLLM schedules it with continuous batching)."""
        results: dict[int, LabelResult] = {}
        runnable = []
        for i, req in enumerate(batch):
            if req.task in self.pack.tasks:
                runnable.append(i)
            else:
                results[i] = LabelResult(req.id, req.task, error=f"unknown task {req.task!r}")
        if runnable:
            reqs = [batch[i] for i in runnable]
            tasks = [self.pack.task(r.task) for r in reqs]
            conversations = [
                teacher_messages(self.pack, t, r.input, r.context)
                for t, r in zip(tasks, reqs, strict=True)
            ]
            params = [self._params(t) for t in tasks]
            outputs = self.llm.chat(conversations, sampling_params=params, use_tqdm=False)
            for i, req, out in zip(runnable, reqs, outputs, strict=True):
                results[i] = self._result(req, out)
        return [results[i] for i in range(len(batch))]

    def _result(self, req: LabelRequest, out: Any) -> LabelResult:
        completion = out.outputs[0]
        prompt_tokens = len(out.prompt_token_ids or [])
        completion_tokens = len(completion.token_ids or [])
        usage = Usage(
            prompt_tokens,
            completion_tokens,
            self.cfg.price.cost(prompt_tokens, completion_tokens),
        )
        try:
            value = json.loads(completion.text)
        except json.JSONDecodeError as exc:
            error = f"malformed JSON answer ({completion.finish_reason}): {exc.msg}"
            return LabelResult(req.id, req.task, raw=completion.text, error=error, usage=usage)
        return LabelResult(req.id, req.task, raw=completion.text, output=value, usage=usage)
