"""Evaluation: batch prediction for any model ref, per-task metrics, gates and reports."""

from mkd.evaluation.gates import GateResult, check_gates
from mkd.evaluation.metrics import TaskMetrics, task_metrics
from mkd.evaluation.predict import LocalPredictor, ModelSpec, Prediction, TeacherPredictor

__all__ = [
    "GateResult",
    "LocalPredictor",
    "ModelSpec",
    "Prediction",
    "TaskMetrics",
    "TeacherPredictor",
    "check_gates",
    "task_metrics",
]
