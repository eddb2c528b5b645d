"""ReferenceTeacher: the reference labeler behind the TeacherBackend protocol."""

from __future__ import annotations

import time
from functools import cache

from mkd.records import canonical_json
from mkd.tasks.pack import TaskPack
from mkd.tasks.prompts import teacher_messages
from mkd.teachers.base import LabelRequest, LabelResult, Usage
from mkd.teachers.reference.labeler import ReferenceLabeler

# Bump when a rule or gazetteer change alters labels: the version enters the label-cache key.
LABELER_VERSION = "1.1"


def estimate_tokens(text: str) -> int:
    """About four characters a token (the usual rule of thumb for English with BPE tokenizers)."""
    return max(1, len(text) // 4)


class ReferenceTeacher:
    """A TeacherBackend answering with ReferenceLabeler; usage counts as an LLM would see them.

    prompt_tokens estimate the full teacher prompt (instruction, schema, few-shot examples and
    the query), so cost and throughput figures match what a hosted teacher would be charged.
    """

    def __init__(self, pack: TaskPack) -> None:
        self.pack = pack
        self.labeler = ReferenceLabeler(pack)
        self.teacher_id = f"reference/{LABELER_VERSION}"

    def label(self, batch: list[LabelRequest]) -> list[LabelResult]:
        """Label every request; an unknown task becomes that item's error, never an exception."""
        return [self._label_one(request) for request in batch]

    def _label_one(self, request: LabelRequest) -> LabelResult:
        started = time.perf_counter()
        if request.task not in self.pack.tasks:
            known = ", ".join(self.pack.tasks)
            return LabelResult(
                request.id, request.task, error=f"unknown task {request.task!r} (known: {known})"
            )
        output = self.labeler.predict(request.task, request.input, request.context)
        raw = canonical_json(output)
        usage = Usage(
            prompt_tokens=self._prompt_overhead(request.task) + estimate_tokens(str(request.input)),
            completion_tokens=estimate_tokens(raw),
        )
        return LabelResult(
            request.id, request.task, raw=raw, output=output, usage=usage,
            latency_s=time.perf_counter() - started,
        )  # fmt: skip

    @cache  # noqa: B019 - one entry per task name, the teacher lives as long as its pack
    def _prompt_overhead(self, task: str) -> int:
        messages = teacher_messages(self.pack, self.pack.task(task), "", None)
        return estimate_tokens("".join(m["content"] for m in messages))
