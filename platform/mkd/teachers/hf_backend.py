"""The `hf` teacher: a local transformers model (mkd.inference.transformers_engine) prompted
with the teacher's full context, plain greedy decoding.

With SmolLM2-135M it is a weak teacher (the base model rarely follows the JSON instructions),
useful for tests and for trying a bigger local model on a GPU node.
"""

from __future__ import annotations

from typing import Any

from mkd.config.teacher import TeacherConfig
from mkd.inference import EngineSpec
from mkd.inference.transformers_engine import TransformersEngine
from mkd.tasks import TaskPack
from mkd.teachers.engine_teacher import EngineTeacher


class HFTeacher(EngineTeacher):
    """Greedy generation in chunks of cfg.batch_size.

    Args:
        cfg: teacher section: model_uri, batch_size, max_tokens, price (usually 0).
        pack: task pack for prompts.
        model, tokenizer: an already loaded pair (tests inject them); loaded from cfg otherwise.
    """

    def __init__(
        self, cfg: TeacherConfig, pack: TaskPack, model: Any = None, tokenizer: Any = None
    ) -> None:
        spec = EngineSpec(
            model_uri=cfg.model_uri, prompt="fewshot", decoding="free",
            max_new_tokens=cfg.max_tokens, temperature=cfg.temperature,
        )  # fmt: skip
        engine = TransformersEngine(spec, pack, model=model, tokenizer=tokenizer)
        super().__init__(engine, cfg.teacher_id, cfg.price, cfg.batch_size)
        self.cfg, self.pack = cfg, pack
