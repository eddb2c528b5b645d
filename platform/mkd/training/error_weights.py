"""Per-task loss weights from validation error (training.mixing.error_weighting).

After each validation, a task's loss weight becomes its mixing weight times
(1 - its validation agreement)^power, normalised to mean 1 over the tasks the validation slice
holds: the tasks the student gets wrong most take more of the gradient, the ones it has learnt
give some back. The weights follow the last validation only (no memory), so a resumed run
rebuilds them from its history.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

ERROR_FLOOR = 0.05  # a task at 100% agreement keeps a little weight instead of none


def error_factors(
    agreement: Mapping[str, float], tasks: Sequence[str], power: float
) -> dict[str, float]:
    """Each task's factor: (1 - agreement)^power over the seen tasks' mean; 1.0 for a task the
    validation slice did not hold."""
    errors = {t: max(1.0 - agreement[t], ERROR_FLOOR) ** power for t in tasks if t in agreement}
    if not errors:
        return dict.fromkeys(tasks, 1.0)
    mean = sum(errors.values()) / len(errors)
    return {t: errors[t] / mean if t in errors else 1.0 for t in tasks}


def last_agreement(history: Sequence[Mapping[str, Any]]) -> dict[str, float] | None:
    """The per-task agreement of the latest validation in a run's history (None before one)."""
    for entry in reversed(history):
        if "val_task_agreement" in entry:
            return dict(entry["val_task_agreement"])
    return None
