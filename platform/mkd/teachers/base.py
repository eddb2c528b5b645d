"""The teacher protocol shared by every backend (openai, vllm, hf, reference)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class LabelRequest:
    """One item to label: a stable id, the task, the query and its context (as_of...)."""

    id: str
    task: str
    input: str
    context: dict[str, Any] | None = None


@dataclass
class Usage:
    """Token counts from the server's `usage` field, and the cost from the price table."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0

    def __iadd__(self, other: Usage) -> Usage:
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.cost_usd += other.cost_usd
        return self


@dataclass
class LabelResult:
    """The teacher's answer: raw text as returned, the parsed value, or an error (never both)."""

    id: str
    task: str
    raw: str | None = None
    output: Any = None
    error: str | None = None
    usage: Usage = field(default_factory=Usage)
    latency_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None


@runtime_checkable
class TeacherBackend(Protocol):
    """Anything that labels a batch of requests. `teacher_id` enters the label-cache key."""

    teacher_id: str

    def label(self, batch: list[LabelRequest]) -> list[LabelResult]: ...
