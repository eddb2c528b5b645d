"""Release gates: per-task thresholds a candidate must meet before it may serve traffic."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from mkd.config.evaluation import EvaluationConfig
from mkd.evaluation.metrics import TaskMetrics


@dataclass(frozen=True)
class GateResult:
    """One check of one task: the measured value against its threshold."""

    task: str
    check: str
    value: float
    threshold: float
    passed: bool

    def describe(self) -> str:
        op = ">=" if self.check != "violation_rate" else "<="
        mark = "pass" if self.passed else "FAIL"
        digits = 0 if self.check == "items" else 3
        return (
            f"{mark} {self.task}: {self.check} {self.value:.{digits}f} {op} "
            f"{self.threshold:.{digits}f}"
        )


def check_gates(cfg: EvaluationConfig, metrics: dict[str, TaskMetrics]) -> list[GateResult]:
    """Every gate check for every task evaluated (a task with no items fails its gates)."""
    results = []
    for task, m in sorted(metrics.items()):
        gate = cfg.gate_for(task)
        results.append(
            GateResult(task, "agreement", m.agreement, gate.min_agreement,
                       m.count > 0 and m.agreement >= gate.min_agreement)
        )  # fmt: skip
        results.append(
            GateResult(task, "agreement_lower_bound", m.agreement_low,
                       gate.min_agreement_lower_bound,
                       m.count > 0 and m.agreement_low >= gate.min_agreement_lower_bound)
        )  # fmt: skip
        results.append(
            GateResult(task, "items", m.count, gate.min_items, m.count >= gate.min_items)
        )
        results.append(
            GateResult(task, "violation_rate", m.violation_rate, gate.max_violation_rate,
                       m.count > 0 and m.violation_rate <= gate.max_violation_rate)
        )  # fmt: skip
        if gate.min_score is not None:
            results.append(
                GateResult(task, "score", m.score, gate.min_score, m.score >= gate.min_score)
            )
    return results


def gates_summary(results: list[GateResult]) -> dict[str, Any]:
    """The form stored in reports and registry manifests: `failed` names each failed check as
    `task/check` (what a refusal to deploy quotes)."""
    return {
        "passed": all(r.passed for r in results),
        "failed": [f"{r.task}/{r.check}" for r in results if not r.passed],
        "results": [asdict(r) for r in results],
    }
