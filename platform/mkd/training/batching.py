"""Length bucketing: batches of similar length so that padding stays small (< 15%)."""

from __future__ import annotations

import random
from collections.abc import Sequence


def length_batches(
    stream: Sequence[int],
    lengths: Sequence[int],
    batch_size: int,
    rng: random.Random,
    window: int = 64,
) -> list[list[int]]:
    """Split a sampled stream into batches, sorted by length inside windows of
    `window` batches, then shuffled, so each batch is homogeneous while the order stays random.
    """
    span = batch_size * window
    batches: list[list[int]] = []
    for start in range(0, len(stream), span):
        chunk = sorted(stream[start : start + span], key=lambda i: lengths[i])
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    rng.shuffle(batches)
    return batches


def plain_batches(stream: Sequence[int], batch_size: int) -> list[list[int]]:
    """Consecutive batches in stream order (no bucketing): the baseline."""
    return [list(stream[i : i + batch_size]) for i in range(0, len(stream), batch_size)]


def padding_ratio(batches: Sequence[Sequence[int]], lengths: Sequence[int]) -> float:
    """Share of the padded tensor positions that are padding."""
    real = sum(lengths[i] for b in batches for i in b)
    padded = sum(max(lengths[i] for i in b) * len(b) for b in batches if b)
    return 0.0 if padded == 0 else 1.0 - real / padded
