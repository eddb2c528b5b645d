"""The whole run's micro-batch order, fixed by the seed so that a resumed run continues it exactly."""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from mkd.config.training import TrainingConfig
from mkd.training.batching import length_batches, padding_ratio, plain_batches
from mkd.training.data import Example
from mkd.training.mixing import sample_stream, task_probabilities
from mkd.training.packing import packed_length, query_groups


@dataclass(frozen=True)
class Schedule:
    """Micro-batches (lists of example indices) of every step and worker, and what they mix."""

    batches: list[list[int]]
    total_steps: int
    grad_accum: int
    world_size: int
    task_probs: dict[str, float]
    padding_ratio: float
    # Under packing every query brings all its tasks, so mixing acts on the loss instead of the
    # sampling: weight_t = p_t / (task t's share of the examples); empty = every weight is 1.
    task_loss_weights: dict[str, float] = field(default_factory=dict)

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
    if cfg.packing == "shared_prefix":
        return _packed_schedule(examples, cfg, seed, world_size, probs)
    steps = total_steps(cfg, len(examples), world_size)
    rng = random.Random(seed)
    stream = sample_stream(
        by_task, probs, steps * cfg.batch_size * cfg.grad_accum * world_size, rng
    )
    lengths = [len(e) for e in examples]
    batches = _cut(stream, lengths, cfg, rng)
    return Schedule(
        batches, steps, cfg.grad_accum, world_size, probs, padding_ratio(batches, lengths)
    )


def _cut(
    stream: list[int], lengths: Sequence[int], cfg: TrainingConfig, rng: random.Random
) -> list[list[int]]:
    """Micro-batches of `cfg.batch_size` units (examples, or queries when packed)."""
    if cfg.bucketing == "length":
        return length_batches(stream, lengths, cfg.batch_size, rng)
    return plain_batches(stream, cfg.batch_size)


def _packed_schedule(
    examples: Sequence[Example],
    cfg: TrainingConfig,
    seed: int,
    world_size: int,
    probs: dict[str, float],
) -> Schedule:
    """Queries are the sampled unit (reshuffled passes), each micro-batch holds `batch_size` of
    them with all their examples; the mixing probabilities become per-task loss weights."""
    groups = query_groups(examples)
    steps = total_steps(cfg, len(groups), world_size)
    rng = random.Random(seed)
    n = steps * cfg.batch_size * cfg.grad_accum * world_size
    stream = sample_stream({"query": range(len(groups))}, {"query": 1.0}, n, rng)
    lengths = [packed_length([examples[i] for i in g]) for g in groups]
    batches = _cut(stream, lengths, cfg, rng)
    shares = {t: c / len(examples) for t, c in Counter(e.task for e in examples).items()}
    weights = {t: round(p / shares[t], 6) for t, p in probs.items()}
    return Schedule(
        [[i for g in batch for i in groups[g]] for batch in batches],
        steps,
        cfg.grad_accum,
        world_size,
        dict(sorted(shares.items())),
        padding_ratio(batches, lengths),
        {} if all(abs(w - 1) < 1e-6 for w in weights.values()) else weights,
    )


def eval_query_batches(
    examples: Sequence[Example], batch_size: int, n_batches: int
) -> list[list[int]]:
    """A fixed val slice of whole queries (every task of each), spread evenly over the split's
    order (families stay mixed), batched `batch_size` queries at a time by packed length."""
    groups = query_groups(examples)
    want = min(len(groups), batch_size * n_batches)
    picked = [groups[i * len(groups) // want] for i in range(want)] if want else []
    picked.sort(key=lambda g: packed_length([examples[i] for i in g]))
    return [[i for g in picked[k : k + batch_size] for i in g] for k in range(0, want, batch_size)]


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
