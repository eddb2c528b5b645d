"""The staged rollout plan (`mkd rollout plan`): each stage and the gate that lets it advance."""

from __future__ import annotations

from dataclasses import dataclass

from mkd.serve.config import RouterConfig


@dataclass(frozen=True)
class Stage:
    name: str
    mode: str
    student_weight: float
    gate: str


def rollout_plan(config: RouterConfig) -> list[Stage]:
    """The staged rollout: shadow, then 5%, 25%, 50%, 100%, each entered only past its gate."""
    p = config.rollback
    quality = f"agreement >= {p.min_agreement} over >= {p.min_agreement_samples} pairs"
    health = (
        f"fallback <= {p.max_fallback_rate:.0%}, errors <= {p.max_error_rate:.0%}, "
        f"student p95 <= {p.max_p95_s}s or <= {p.max_latency_ratio}x teacher p95 "
        f"over >= {p.min_samples} attempts"
    )
    stages = [Stage("shadow", "shadow", 0.0, f"{quality} (every shadow pair scored); {health}")]
    for weight in (0.05, 0.25, 0.5, 1.0):
        stages.append(
            Stage(
                f"canary {weight:.0%}",
                "split",
                weight,
                f"{quality} on the mirrored {config.mirror_fraction:.0%}; {health}; "
                f"no automatic rollback within a full window ({p.window} attempts)",
            )
        )
    return stages
