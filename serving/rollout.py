"""Canary decisions and the sliding-window rollback policy: pure logic, no Ray, no I/O.

The router records every student attempt (ok, fallback = the teacher answered instead, error =
the student raised or timed out) and every agreement score of a mirrored/shadow pair. `check()`
returns why the student must be rolled back, or None.
"""

from __future__ import annotations

import hashlib
import random
from collections import deque
from dataclasses import dataclass
from typing import Literal

from mkd.serve.config import RollbackPolicy

Outcome = Literal["ok", "fallback", "error"]


def cohort_point(sticky_value: str) -> float:
    """A stable point in [0, 1) for a user: the same user always falls on the same side.

    Raising the weight only adds users to the canary (a user below 0.05 is also below 0.25).
    """
    digest = hashlib.sha256(sticky_value.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def route_point(sticky_value: str | None, rng: random.Random) -> float:
    """The request's point in [0, 1): fixed per user when sticky, fresh otherwise.

    One point serves every task of a request, so /v1/analyze goes to one side as a whole
    (and stays batched in the student) unless per-task weights differ.
    """
    return cohort_point(sticky_value) if sticky_value else rng.random()


def takes_student(weight: float, point: float) -> bool:
    """True when a request at `point` goes to the student at canary `weight`."""
    return weight >= 1 or point < weight


@dataclass(frozen=True)
class WindowStats:
    attempts: int
    fallback_rate: float
    error_rate: float
    agreement_samples: int
    agreement: float | None

    def as_dict(self) -> dict:
        return {
            "attempts": self.attempts,
            "fallback_rate": round(self.fallback_rate, 4),
            "error_rate": round(self.error_rate, 4),
            "agreement_samples": self.agreement_samples,
            "agreement": None if self.agreement is None else round(self.agreement, 4),
        }


class RollbackMonitor:
    """Sliding windows of student outcomes and agreement scores, and the gates over them."""

    def __init__(self, policy: RollbackPolicy) -> None:
        self.policy = policy
        self.outcomes: deque[Outcome] = deque(maxlen=policy.window)
        self.agreements: deque[float] = deque(maxlen=policy.window)

    def with_policy(self, policy: RollbackPolicy) -> RollbackMonitor:
        """A monitor under `policy` that keeps this one's most recent samples (up to its window),
        so that a policy change does not restart the minimum-sample count."""
        monitor = RollbackMonitor(policy)
        monitor.outcomes.extend(self.outcomes)
        monitor.agreements.extend(self.agreements)
        return monitor

    def record(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)

    def record_agreement(self, score: float) -> None:
        self.agreements.append(score)

    def stats(self) -> WindowStats:
        n = len(self.outcomes)
        errors = sum(o == "error" for o in self.outcomes)
        fallbacks = sum(o != "ok" for o in self.outcomes)  # an error is answered by the teacher too
        agreement = sum(self.agreements) / len(self.agreements) if self.agreements else None
        return WindowStats(
            attempts=n,
            fallback_rate=fallbacks / n if n else 0.0,
            error_rate=errors / n if n else 0.0,
            agreement_samples=len(self.agreements),
            agreement=agreement,
        )

    def check(self) -> str | None:
        """The reason to roll back now, or None while every gate holds."""
        p, s = self.policy, self.stats()
        if not p.enabled:
            return None
        if s.attempts >= p.min_samples:
            if s.error_rate > p.max_error_rate:
                return (
                    f"error rate {s.error_rate:.2f} > {p.max_error_rate} over {s.attempts} attempts"
                )
            if s.fallback_rate > p.max_fallback_rate:
                return (
                    f"fallback rate {s.fallback_rate:.2f} > {p.max_fallback_rate} "
                    f"over {s.attempts} attempts"
                )
        enough = s.agreement is not None and s.agreement_samples >= p.min_agreement_samples
        if enough and s.agreement < p.min_agreement:
            return (
                f"agreement {s.agreement:.2f} < {p.min_agreement} "
                f"over {s.agreement_samples} mirrored pairs"
            )
        return None
