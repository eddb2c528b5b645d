"""The `hf` teacher: a local transformers model prompted with the teacher's full context.

With SmolLM2-135M on this machine it is a weak teacher (the base model rarely follows the JSON
instructions), useful for tests and for trying a bigger local model on a GPU node.
"""

from __future__ import annotations

import json
import time
from typing import Any

from mkd.config.teacher import TeacherConfig
from mkd.tasks import TaskPack, teacher_messages
from mkd.teachers.base import LabelRequest, LabelResult, Usage
from mkd.teachers.openai_backend import strip_fences


class HFTeacher:
    """Greedy generation with a transformers model loaded by mkd.models.load_student.

    Args:
        cfg: teacher section: model_uri, batch_size, max_tokens, price (usually 0).
        pack: task pack for prompts.
        model, tokenizer: an already loaded pair (tests inject them); loaded from cfg otherwise.
    """

    def __init__(
        self, cfg: TeacherConfig, pack: TaskPack, model: Any = None, tokenizer: Any = None
    ) -> None:
        self.cfg, self.pack = cfg, pack
        self.teacher_id = cfg.teacher_id
        if model is None:
            from mkd.models import load_student

            model, tokenizer = load_student(cfg.model_uri)
        self.model, self.tokenizer = model, tokenizer

    def label(self, batch: list[LabelRequest]) -> list[LabelResult]:
        """Label in chunks of cfg.batch_size; unknown tasks and bad JSON come back as errors."""
        results: dict[int, LabelResult] = {}
        runnable = []
        for i, req in enumerate(batch):
            if req.task not in self.pack.tasks:
                results[i] = LabelResult(req.id, req.task, error=f"unknown task {req.task!r}")
            else:
                runnable.append(i)
        size = self.cfg.batch_size
        for start in range(0, len(runnable), size):
            chunk = runnable[start : start + size]
            for i, result in zip(chunk, self._generate([batch[i] for i in chunk]), strict=True):
                results[i] = result
        return [results[i] for i in range(len(batch))]

    def _generate(self, reqs: list[LabelRequest]) -> list[LabelResult]:
        from mkd.models import generate_json

        tasks = [self.pack.task(r.task) for r in reqs]
        conversations = [
            teacher_messages(self.pack, t, r.input, r.context)
            for t, r in zip(tasks, reqs, strict=True)
        ]
        max_new = self.cfg.max_tokens or max(t.max_output_tokens for t in tasks)
        started = time.monotonic()
        texts = generate_json(self.model, self.tokenizer, conversations, max_new_tokens=max_new)
        latency = (time.monotonic() - started) / max(1, len(reqs))
        return [
            self._result(r, c, text, latency)
            for r, c, text in zip(reqs, conversations, texts, strict=True)
        ]

    def _result(self, req: LabelRequest, messages: list, text: str, latency: float) -> LabelResult:
        prompt = len(
            self.tokenizer.apply_chat_template(
                messages, tokenize=True, add_generation_prompt=True, return_dict=True
            )["input_ids"]
        )
        completion = len(self.tokenizer(text, add_special_tokens=False)["input_ids"])
        usage = Usage(prompt, completion, self.cfg.price.cost(prompt, completion))
        try:
            value = json.loads(strip_fences(text))
        except json.JSONDecodeError as exc:
            error = f"malformed JSON answer: {exc.msg} at column {exc.colno}"
            return LabelResult(req.id, req.task, raw=text, error=error, usage=usage)
        return LabelResult(req.id, req.task, raw=text, output=value, usage=usage, latency_s=latency)
