"""The `vllm` teacher: offline batch inference on a GPU worker (mkd.inference.vllm_engine's
`vllm.LLM` engine; the Serve Student uses the async one, mkd.inference.vllm_async) with
JSON-schema structured outputs.

Selected by `teacher.backend: vllm` and run inside a Ray Data actor that holds a GPU
(`data.actor_num_gpus: 1`). vLLM is imported only when the engine is built: it cannot be
installed on CPU machines (it pulls a CUDA torch).
"""

from __future__ import annotations

from typing import Any

from mkd.config.teacher import TeacherConfig
from mkd.inference import EngineSpec
from mkd.inference.vllm_engine import VLLMEngine
from mkd.tasks import TaskPack
from mkd.teachers.engine_teacher import EngineTeacher


class VLLMTeacher(EngineTeacher):
    """Labels with a vLLM engine in this process (one engine per actor/GPU set).

    Args:
        cfg: teacher section: model_uri (hf://ORG/NAME or a local directory),
            tensor_parallel_size, temperature, max_tokens, batch_size, price.
        pack: task pack for prompts and schemas.
        llm: an already built `vllm.LLM` (tests, or sharing one engine between teachers).
    """

    def __init__(self, cfg: TeacherConfig, pack: TaskPack, llm: Any = None) -> None:
        spec = EngineSpec(
            backend="vllm", model_uri=cfg.model_uri, prompt="fewshot", dtype="auto",
            temperature=cfg.temperature, max_new_tokens=cfg.max_tokens,
            options={
                "tensor_parallel_size": cfg.tensor_parallel_size,
                "max_num_seqs": max(cfg.batch_size, 1),
            },
        )  # fmt: skip
        super().__init__(VLLMEngine(spec, pack, llm=llm), cfg.teacher_id, cfg.price)
        self.cfg, self.pack = cfg, pack
