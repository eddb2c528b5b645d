"""The finance pack's reference labeler as an engine: deterministic, offline, and billed as an
LLM teacher would be (token estimates of the full teacher prompt and the answer)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from functools import cache

from mkd.inference.base import EngineItem, EngineOutput, EngineSpec, finish, in_order
from mkd.records import canonical_json
from mkd.tasks import TaskPack, teacher_messages


def estimate_tokens(text: str) -> int:
    """About four characters a token (the usual rule of thumb for English with BPE tokenizers)."""
    return max(1, len(text) // 4)


class ReferenceEngine:
    """Answers with ReferenceLabeler; `version` is the labeler's version (it enters cache keys).

    Args:
        spec: unused but for `version` (default: reference/<labeler version>).
        pack: the task pack whose reference rules answer.
    """

    backend = "reference"

    def __init__(self, spec: EngineSpec | None, pack: TaskPack) -> None:
        from mkd.teachers.reference.labeler import ReferenceLabeler
        from mkd.teachers.reference.teacher import LABELER_VERSION

        self.pack = pack
        self.labeler = ReferenceLabeler(pack)
        self.version = (spec.version if spec else "") or f"reference/{LABELER_VERSION}"

    def generate(self, items: Sequence[EngineItem]) -> list[EngineOutput]:
        return in_order(items, self.pack, lambda idx: [self._one(items[i]) for i in idx])

    def _one(self, item: EngineItem) -> EngineOutput:
        started = time.perf_counter()
        task = self.pack.task(item.task)
        raw = canonical_json(self.labeler.predict(item.task, item.input, item.context))
        out = EngineOutput(
            item.task,
            prompt_tokens=self._prompt_overhead(item.task) + estimate_tokens(str(item.input)),
            output_tokens=estimate_tokens(raw),
        )
        out = finish(task, out, raw)
        out.latency_s = time.perf_counter() - started
        return out

    @cache  # noqa: B019 - one entry per task name, the engine lives as long as its pack
    def _prompt_overhead(self, task: str) -> int:
        messages = teacher_messages(self.pack, self.pack.task(task), "", None)
        return estimate_tokens("".join(m["content"] for m in messages))
