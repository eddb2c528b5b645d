"""The `openai` teacher: any OpenAI-compatible chat endpoint (mkd.inference.openai_engine)
prompted with the teacher's context-engineered prompt; usage and budget across the run."""

from __future__ import annotations

from mkd.config.teacher import TeacherConfig
from mkd.inference import EngineSpec, strip_fences
from mkd.inference.openai_engine import (
    BUDGET_EXHAUSTED,
    ITEM_HEADER,
    OpenAIEngine,
    bearer_headers,
)
from mkd.tasks import TaskPack
from mkd.teachers.base import LabelRequest, LabelResult, Usage
from mkd.teachers.engine_teacher import EngineTeacher

__all__ = [
    "BUDGET_EXHAUSTED",
    "ITEM_HEADER",
    "OpenAITeacher",
    "bearer_headers",
    "strip_fences",
]


class OpenAITeacher(EngineTeacher):
    """Labels batches through an OpenAI-compatible server, concurrently.

    Args:
        cfg: the teacher section (base_url, model, concurrency, retries, price, budget...).
        pack: the task pack whose teacher prompts and schemas are used.
        share: how many copies label at once (Ray actors); the rate limit and the budget are
            split evenly between them so the totals hold across the cluster.
    """

    def __init__(self, cfg: TeacherConfig, pack: TaskPack, share: int = 1) -> None:
        engine = OpenAIEngine(EngineSpec(backend="openai", prompt="fewshot"), pack, cfg, share)
        super().__init__(engine, cfg.teacher_id)
        self.cfg, self.pack = cfg, pack

    @property
    def usage(self) -> Usage:
        """Tokens and cost of every answered attempt so far (retried ones included)."""
        prompt, completion = self.engine.spent_tokens
        return Usage(prompt, completion, self.engine.spent_usd)

    @property
    def budget_exhausted(self) -> bool:
        return self.engine.budget_exhausted

    async def alabel(self, batch: list[LabelRequest]) -> list[LabelResult]:
        """Async form of `label`, for callers that already run an event loop."""
        return self.results(batch, await self.engine.agenerate(self.items(batch)))
