"""Task mixing: how many of the training draws go to each task (weights or temperature)."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

from mkd.config.training import MixingSettings


def task_probabilities(counts: Mapping[str, int], mixing: MixingSettings) -> dict[str, float]:
    """Sampling probability per task.

    temperature: p_t ∝ n_t^(1/T) (T=1 proportional; large T tends to uniform), which lifts
    small tasks without repeating them endlessly; weights: p_t ∝ w_t (missing = 1).
    """
    if not counts or any(n <= 0 for n in counts.values()):
        empty = sorted(t for t, n in counts.items() if n <= 0)
        raise ValueError(f"mixing: tasks without training examples: {empty or 'all'}")
    if mixing.strategy == "weights":
        raw = {t: float(mixing.weights.get(t, 1.0)) for t in counts}
    elif mixing.strategy == "temperature":
        raw = {t: n ** (1.0 / mixing.temperature) for t, n in counts.items()}
    else:
        raw = {t: float(n) for t, n in counts.items()}
    total = sum(raw.values())
    if total <= 0:
        raise ValueError("mixing.weights: every task has weight 0")
    return {t: v / total for t, v in sorted(raw.items())}


def sample_stream(
    by_task: Mapping[str, Sequence[int]], probs: Mapping[str, float], n: int, rng: random.Random
) -> list[int]:
    """`n` example indices: task counts follow `probs` exactly (largest remainder), each task
    cycles through reshuffled passes of its examples, and the draws are interleaved at random.
    """
    quota = {t: int(n * p) for t, p in probs.items()}
    by_remainder = sorted(probs, key=lambda t: n * probs[t] - quota[t], reverse=True)
    for t in by_remainder[: n - sum(quota.values())]:
        quota[t] += 1
    stream: list[int] = []
    for task, k in quota.items():
        pool = list(by_task[task])
        while k > 0:
            rng.shuffle(pool)
            stream.extend(pool[:k])
            k -= len(pool)
    rng.shuffle(stream)
    return stream
