"""The pack's own reference teacher (pack.yaml `plugins.reference_teacher`) as an engine.

The rules live in the pack; this module only adapts them. A teacher built on an engine (an
EngineTeacher, as the finance pack's is) answers through that engine; any other TeacherBackend
answers through its `label` API.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mkd.inference.base import EngineItem, EngineOutput, EngineSpec, finish, in_order
from mkd.records import canonical_json
from mkd.tasks import TaskPack


class ReferenceEngine:
    """Answers with the pack's reference teacher; `version` is the teacher's id.

    Raises:
        ValueError: the pack names no reference teacher.
    """

    backend = "reference"

    def __init__(self, spec: EngineSpec | None, pack: TaskPack) -> None:
        teacher_class = pack.plugin("reference_teacher")
        if teacher_class is None:
            raise ValueError(
                f"the reference engine needs a reference teacher, and pack {pack.name!r} names "
                "none (pack.yaml plugins.reference_teacher)"
            )
        self.pack, self.teacher = pack, teacher_class(pack)
        self.inner = getattr(self.teacher, "engine", None)
        self.version = (spec.version if spec else "") or self.teacher.teacher_id

    def generate(self, items: Sequence[EngineItem]) -> list[EngineOutput]:
        if self.inner is not None:
            return self.inner.generate(items)
        return in_order(items, self.pack, lambda idx: self._label([items[i] for i in idx]))

    def _label(self, items: list[EngineItem]) -> list[EngineOutput]:
        from mkd.teachers.base import LabelRequest

        requests = [LabelRequest(i.id or str(n), i.task, i.input, i.context)
                    for n, i in enumerate(items)]  # fmt: skip
        return [self._output(r) for r in self.teacher.label(requests)]

    def _output(self, result: Any) -> EngineOutput:
        usage = result.usage
        out = EngineOutput(result.task, prompt_tokens=usage.prompt_tokens,
                           output_tokens=usage.completion_tokens, latency_s=result.latency_s,
                           cost_usd=usage.cost_usd)  # fmt: skip
        if result.error is not None:
            out.raw, out.error = result.raw, result.error
            return out
        raw = result.raw if result.raw is not None else canonical_json(result.output)
        return finish(self.pack.task(result.task), out, raw)
