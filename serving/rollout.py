"""The sliding-window rollback policy: pure logic, no Ray, no I/O (routing: serving.policy).

The router records every student attempt (ok, fallback = the teacher answered instead, error =
the student raised or timed out) and every agreement score of a mirrored/shadow pair. `check()`
returns why the student must be rolled back, or None. Latencies of student and teacher calls feed
the latency gate (student p95 above both `max_p95_s` and `max_latency_ratio` x the teacher's p95).

The monitor decides for one Router replica; the decision is shared by every replica through
serving.rollout_state.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Literal

from mkd.serve.config import RollbackPolicy

Outcome = Literal["ok", "fallback", "error"]
Side = Literal["student", "teacher"]


def p95(samples: list[float] | deque[float]) -> float | None:
    """The 95th percentile (nearest rank) of `samples`, None when there are none."""
    if not samples:
        return None
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


@dataclass(frozen=True)
class WindowStats:
    attempts: int
    fallback_rate: float
    error_rate: float
    agreement_samples: int
    agreement: float | None
    student_latency_samples: int = 0
    student_p95_s: float | None = None
    teacher_latency_samples: int = 0
    teacher_p95_s: float | None = None

    def as_dict(self) -> dict:
        def r(x: float | None) -> float | None:
            return None if x is None else round(x, 4)

        return {
            "attempts": self.attempts,
            "fallback_rate": round(self.fallback_rate, 4),
            "error_rate": round(self.error_rate, 4),
            "agreement_samples": self.agreement_samples,
            "agreement": r(self.agreement),
            "student_latency_samples": self.student_latency_samples,
            "student_p95_s": r(self.student_p95_s),
            "teacher_latency_samples": self.teacher_latency_samples,
            "teacher_p95_s": r(self.teacher_p95_s),
        }


class RollbackMonitor:
    """Sliding windows of student outcomes, agreement scores and student/teacher latencies, and
    the gates over them."""

    def __init__(self, policy: RollbackPolicy) -> None:
        self.policy = policy
        self.outcomes: deque[Outcome] = deque(maxlen=policy.window)
        self.agreements: deque[float] = deque(maxlen=policy.window)
        self.latencies: dict[Side, deque[float]] = {
            "student": deque(maxlen=policy.window),
            "teacher": deque(maxlen=policy.window),
        }

    def with_policy(self, policy: RollbackPolicy) -> RollbackMonitor:
        """A monitor under `policy` that keeps this one's most recent samples (up to its window),
        so that a policy change does not restart the minimum-sample count."""
        monitor = RollbackMonitor(policy)
        monitor.outcomes.extend(self.outcomes)
        monitor.agreements.extend(self.agreements)
        for side, samples in self.latencies.items():
            monitor.latencies[side].extend(samples)
        return monitor

    def record(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)

    def record_agreement(self, score: float) -> None:
        self.agreements.append(score)

    def record_latency(self, side: Side, seconds: float) -> None:
        """One call's latency: a student call (answered, failed or timed out) or a teacher call."""
        self.latencies[side].append(seconds)

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
            student_latency_samples=len(self.latencies["student"]),
            student_p95_s=p95(self.latencies["student"]),
            teacher_latency_samples=len(self.latencies["teacher"]),
            teacher_p95_s=p95(self.latencies["teacher"]),
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
        slow = self._latency_gate(s)
        if slow:
            return slow
        enough = s.agreement is not None and s.agreement_samples >= p.min_agreement_samples
        if enough and s.agreement < p.min_agreement:
            return (
                f"agreement {s.agreement:.2f} < {p.min_agreement} "
                f"over {s.agreement_samples} mirrored pairs"
            )
        return None

    def _latency_gate(self, s: WindowStats) -> str | None:
        """Student p95 above max_p95_s and (when the teacher was timed) max_latency_ratio x the
        teacher's p95, once min_samples student calls are in the window."""
        p = self.policy
        if s.student_p95_s is None or s.student_latency_samples < p.min_samples:
            return None
        if s.student_p95_s <= p.max_p95_s:
            return None
        if s.teacher_p95_s is None:
            return (
                f"student p95 latency {s.student_p95_s:.2f}s > {p.max_p95_s}s "
                f"over {s.student_latency_samples} calls (no teacher samples)"
            )
        if s.student_p95_s <= p.max_latency_ratio * s.teacher_p95_s:
            return None
        return (
            f"student p95 latency {s.student_p95_s:.2f}s > {p.max_p95_s}s and > "
            f"{p.max_latency_ratio} x teacher p95 {s.teacher_p95_s:.2f}s "
            f"over {s.student_latency_samples} calls"
        )
