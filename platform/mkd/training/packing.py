"""Shared-prefix packing: one row per query, the prompt prefix its tasks share stored once.

A query's student prompts differ only in the task tag at the end (mkd.tasks.prompts), so a row
holds their common prefix once, then one branch per task: the rest of that task's prompt and its
answer. A 4D mask lets a branch attend to the prefix and to itself, never to another branch, and
every branch's positions continue the prefix's, so each answer token's loss is the unpacked
example's (tested) while the four copies of the prefix cost one (the speed-up:
docs/measurements.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mkd.tasks.prompts import shared_prefix_len
from mkd.training.data import Example, example_weights


def query_groups(examples: Sequence[Example]) -> list[list[int]]:
    """Indices of the examples that share a query (and context), in order of first appearance."""
    groups: dict[str, list[int]] = {}
    for i, e in enumerate(examples):
        groups.setdefault(e.query, []).append(i)
    return list(groups.values())


def prefix_len(examples: Sequence[Example]) -> int:
    """Tokens stored once for these examples: their common prefix, short of every prompt's last
    token (a branch must hold at least the token that predicts its first answer token)."""
    shared = shared_prefix_len([e.input_ids for e in examples])
    return min(shared, min(e.prompt_len for e in examples) - 1)


def packed_length(examples: Sequence[Example]) -> int:
    """The length of the row that packs these examples."""
    return _layout(examples)[2]


def collate_packed(
    examples: Sequence[Example], pad_id: int, tasks: Sequence[str], multiple_of: int = 1
) -> dict[str, Any]:
    """One row per query of `examples`: input_ids, position_ids, a boolean 4D attention_mask
    [rows, 1, W, W] (True = may attend), task_ids per example, and the answer positions as
    `collate` gives them (answer_rows index `examples`, so per-task sums work unchanged).
    """
    import torch

    groups = query_groups(examples)
    layouts = [_layout([examples[i] for i in g]) for g in groups]
    lengths = [length for _, _, length in layouts]
    width = -(-max(lengths) // multiple_of) * multiple_of
    ids = torch.full((len(groups), width), pad_id, dtype=torch.long)
    positions = torch.zeros((len(groups), width), dtype=torch.long)
    mask = torch.zeros((len(groups), 1, width, width), dtype=torch.bool)
    index: list[int] = []
    rows: list[int] = []
    targets: list[int] = []
    for r, (group, (k, starts, _)) in enumerate(zip(groups, layouts, strict=True)):
        members = [examples[i] for i in group]
        _fill_row(members, k, starts, ids[r], positions[r], mask[r, 0])
        for i, e, start in zip(group, members, starts, strict=True):
            index.extend(r * width + start + j for j in range(e.prompt_len - 1, len(e) - 1))
            rows.extend([i] * (len(e) - e.prompt_len))
            targets.extend(e.input_ids[e.prompt_len :])
        pad = torch.arange(lengths[r], width)
        mask[r, 0, pad, pad] = True  # padding attends to itself: no all-masked softmax rows
    task_ids = torch.tensor([tasks.index(e.task) for e in examples], dtype=torch.long)
    return {"input_ids": ids, "attention_mask": mask, "position_ids": positions,
            "task_ids": task_ids, "row_lengths": torch.tensor(lengths, dtype=torch.long),
            "example_weights": example_weights(examples),
            "answer_index": torch.tensor(index, dtype=torch.long),
            "answer_rows": torch.tensor(rows, dtype=torch.long),
            "answer_labels": torch.tensor(targets, dtype=torch.long)}  # fmt: skip


def _layout(members: Sequence[Example]) -> tuple[int, list[int], int]:
    """(prefix length k, per branch the row offset of its original position 0, the row's
    length): a branch's first token, original position k, sits at start + k."""
    k = prefix_len(members)
    starts, offset = [], k
    for e in members:
        starts.append(offset - k)
        offset += len(e) - k
    return k, starts, offset


def _fill_row(
    members: Sequence[Example], k: int, starts: list[int], ids: Any, positions: Any, mask: Any
) -> None:
    """Write one query's prefix and branches into a row's ids, positions and [W, W] mask."""
    import torch

    ids[:k] = torch.tensor(members[0].input_ids[:k], dtype=torch.long)
    positions[:k] = torch.arange(k)
    mask[:k, :k] = torch.ones(k, k, dtype=torch.bool).tril()
    for e, start in zip(members, starts, strict=True):
        a, b = start + k, start + len(e)
        ids[a:b] = torch.tensor(e.input_ids[k:], dtype=torch.long)
        positions[a:b] = torch.arange(k, len(e))
        mask[a:b, :k] = True
        mask[a:b, a:b] = torch.ones(b - a, b - a, dtype=torch.bool).tril()
