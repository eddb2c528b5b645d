"""The demo's own knobs: how the stand-in teacher behaves and how much traffic is replayed."""

from pydantic import Field

from mkd.config.base import Section


class DemoConfig(Section):
    """Used by `mkd demo` only; a cluster pipeline talks to a real teacher endpoint instead."""

    teacher_latency_ms: float = Field(
        800.0,
        ge=0,
        description="Latency the stand-in teacher server adds per answer (a hosted "
        "LLM's multi-second latency, shortened so labeling stays inside the time budget).",
    )
    teacher_jitter_ms: float = Field(200.0, ge=0, description="± uniform jitter on that latency.")
    replay_requests: int = Field(
        40, ge=1, description="Test-split queries replayed through the router per rollout step."
    )
