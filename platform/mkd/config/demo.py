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
    force_canary: bool = Field(
        False,
        description="Put the student on the canary even when its gates failed (`mkd demo "
        "--force`); the summary then says so. Default: a rejected student stays in shadow.",
    )
    canary_weight: float = Field(
        0.25, gt=0, le=1, description="Share of traffic the canary step gives the student."
    )
    deadline_minutes: float | None = Field(
        None,
        gt=0,
        description="Finish the whole demo within this many minutes: training gets what is left "
        "once the later stages have their time, estimated from this machine's measured speed "
        "(mkd/pipeline/budget.py). None: training.budget_minutes / max_steps decide.",
    )
    min_train_minutes: float = Field(
        3.0, gt=0, description="The least training a deadline may leave (it may then overrun)."
    )
    fixed_overhead_s: float = Field(
        150.0,
        ge=0,
        description="Seconds of the demo that do not scale with decoding, reserved beside the "
        "deadline: Ray Train's start and outputs, GGUF conversion, Ray Serve's deploys.",
    )
    loop: bool = Field(
        False,
        description="End with one turn of the improvement loop (`mkd demo --loop`): production-like "
        "traffic in shadow with capture on, then `mkd loop` (v2 from the feedback, warm-started "
        "training, v1 vs v2 on the fixed benchmark and the new items, v2 deployed in shadow).",
    )
    loop_queries: str = Field(
        "data/blind.jsonl",
        description="Records (JSONL, the pack's record format) whose queries stand for production "
        "traffic in the loop turn; relative paths are under the pack's folder. They must be "
        "queries the dataset does not hold (the finance pack's blind set was written apart).",
    )
    loop_max_queries: int | None = Field(
        None, ge=1, description="Send at most this many of those queries (None: all of them)."
    )
    loop_training_minutes: float = Field(
        5.0, gt=0, description="Training budget of the loop turn's warm-started run."
    )
