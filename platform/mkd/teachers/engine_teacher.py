"""EngineTeacher: any mkd.inference engine behind the TeacherBackend protocol (label -> results
with usage and cost). Every teacher backend is this adapter over its engine."""

from __future__ import annotations

from collections.abc import Sequence

from mkd.config.teacher import PriceTable
from mkd.inference import Engine, EngineItem, EngineOutput
from mkd.teachers.base import LabelRequest, LabelResult, Usage


class EngineTeacher:
    """Labels through an engine, `batch_size` items per engine call (None: the whole batch).

    Args:
        engine: the engine that answers (its prompt is usually the teacher's few-shot one).
        teacher_id: the identity that enters the label-cache key.
        price: prices a local engine's tokens (an endpoint engine prices its own).
        batch_size: items per engine call.
    """

    def __init__(
        self,
        engine: Engine,
        teacher_id: str,
        price: PriceTable | None = None,
        batch_size: int | None = None,
    ) -> None:
        self.engine, self.teacher_id = engine, teacher_id
        self.price, self.batch_size = price, batch_size

    @property
    def backend(self) -> str:
        """The engine's registry name (what evaluation reports say scored the teacher)."""
        return self.engine.backend

    def label(self, batch: list[LabelRequest]) -> list[LabelResult]:
        """Label every request; an unknown task or a bad answer is that item's error."""
        size = self.batch_size or max(1, len(batch))
        results: list[LabelResult] = []
        for start in range(0, len(batch), size):
            chunk = batch[start : start + size]
            results += self.results(chunk, self.engine.generate(self.items(chunk)))
        return results

    @staticmethod
    def items(batch: Sequence[LabelRequest]) -> list[EngineItem]:
        return [EngineItem(r.task, r.input, r.context, r.id) for r in batch]

    def results(
        self, batch: Sequence[LabelRequest], outs: Sequence[EngineOutput]
    ) -> list[LabelResult]:
        """LabelResults keep a schema-breaking answer as output: the labeling guards judge it."""
        return [self._result(req, out) for req, out in zip(batch, outs, strict=True)]

    def _result(self, req: LabelRequest, out: EngineOutput) -> LabelResult:
        cost = out.cost_usd
        if not cost and self.price is not None:
            cost = self.price.cost(out.prompt_tokens, out.output_tokens)
        usage = Usage(out.prompt_tokens, out.output_tokens, cost)
        output = out.value if out.error is None else None
        return LabelResult(
            req.id, req.task, raw=out.raw, output=output, error=out.error, usage=usage,
            latency_s=out.latency_s,
        )  # fmt: skip
