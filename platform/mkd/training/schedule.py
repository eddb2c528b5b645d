"""The whole run's micro-batch order, fixed by the seed so that a resumed run continues it exactly."""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from mkd.config.training import TrainingConfig
from mkd.training.batching import length_batches, padding_ratio, plain_batches
from mkd.training.data import Example
from mkd.training.mixing import sample_stream, task_probabilities


@dataclass(frozen=True)
class Schedule:
    """Micro-batches (lists of example indices) of every step and worker, and what they mix."""

    batches: list[list[int]]
    total_steps: int
    grad_accum: int
    world_size: int
    task_probs: dict[str, float]
    padding_ratio: float

    def micro_batches(self, step: int, rank: int) -> list[list[int]]:
        """The grad_accum micro-batches that worker `rank` runs for optimizer step `step`."""
        per_step = self.grad_accum * self.world_size
        start = step * per_step + rank * self.grad_accum
        return self.batches[start : start + self.grad_accum]


def total_steps(cfg: TrainingConfig, n_examples: int, world_size: int) -> int:
    """max_steps, or the steps that `epochs` passes over the training set take."""
    if cfg.max_steps:
        return cfg.max_steps
    per_step = cfg.batch_size * cfg.grad_accum * world_size
    return max(1, math.ceil(cfg.epochs * n_examples / per_step))


def build_schedule(
    examples: Sequence[Example], cfg: TrainingConfig, seed: int, world_size: int = 1
) -> Schedule:
    """Sample the mixed stream for the whole run and cut it into (bucketed) micro-batches."""
    by_task: dict[str, list[int]] = defaultdict(list)
    for i, e in enumerate(examples):
        by_task[e.task].append(i)
    probs = task_probabilities({t: len(v) for t, v in by_task.items()}, cfg.mixing)
    steps = total_steps(cfg, len(examples), world_size)
    rng = random.Random(seed)
    stream = sample_stream(
        by_task, probs, steps * cfg.batch_size * cfg.grad_accum * world_size, rng
    )
    lengths = [len(e) for e in examples]
    if cfg.bucketing == "length":
        batches = length_batches(stream, lengths, cfg.batch_size, rng)
    else:
        batches = plain_batches(stream, cfg.batch_size)
    return Schedule(
        batches, steps, cfg.grad_accum, world_size, probs, padding_ratio(batches, lengths)
    )


def eval_batches(examples: Sequence[Example], batch_size: int, n_batches: int) -> list[list[int]]:
    """A fixed, task-stratified val slice (round robin over tasks), batched by length."""
    by_task: dict[str, list[int]] = defaultdict(list)
    for i, e in enumerate(examples):
        by_task[e.task].append(i)
    picked: list[int] = []
    queues = [list(v) for _, v in sorted(by_task.items())]
    while len(picked) < batch_size * n_batches and any(queues):
        for q in queues:
            if q and len(picked) < batch_size * n_batches:
                picked.append(q.pop(0))
    picked.sort(key=lambda i: len(examples[i]))
    return [picked[i : i + batch_size] for i in range(0, len(picked), batch_size)]
