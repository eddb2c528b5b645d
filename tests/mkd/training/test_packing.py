"""Shared-prefix packing: same losses as one row per example, tasks kept apart, whole queries."""

from collections import Counter

import pytest
from mkd.config.training import TrainingConfig
from mkd.records import Record
from mkd.training.data import collate, encode_records
from mkd.training.packing import collate_packed, packed_length, prefix_len, query_groups
from mkd.training.schedule import build_schedule

TASKS = ["currency_identifier", "date_interpretation", "entity_extractor", "query_classifier"]


def _examples(pack, tokenizer, rows):
    return encode_records(tokenizer, pack, [Record(**r) for r in rows], 256)


def _two_queries(rows):
    """Every record of the first two queries that have exactly one record per task, interleaved
    with a lone record of a third query (collate must regroup them)."""
    by_query: dict[str, list[dict]] = {}
    for r in rows:
        by_query.setdefault(r["input"], []).append(r)
    full = [v for v in by_query.values() if len(v) == 4][:3]
    return [full[0][0], full[1][0], full[0][1], full[2][0], *full[0][2:], *full[1][1:]]


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_packed_losses_equal_unpacked(pack, tiny_model_dir, tiny_tokenizer, train_rows, attention):
    import torch
    from mkd.training.modeling import answer_token_losses
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, attn_implementation=attention)
    examples = _examples(pack, tiny_tokenizer, _two_queries(train_rows))
    packed = collate_packed(examples, tiny_tokenizer.pad_token_id, TASKS)
    plain = collate(examples, tiny_tokenizer.pad_token_id, TASKS)
    assert packed["input_ids"].shape[0] == 3  # three queries, three rows
    assert packed["input_ids"].numel() < 0.7 * plain["input_ids"].numel()
    with torch.no_grad():
        a, rows_a = answer_token_losses(model, packed)
        b, rows_b = answer_token_losses(model, plain)
    assert torch.equal(rows_a.sort().values, rows_b.sort().values)
    # Same tokens in another order: compare per example (rows index `examples` in both).
    for i in range(len(examples)):
        assert torch.allclose(a[rows_a == i], b[rows_b == i], atol=1e-4)


def test_branches_see_the_prefix_and_themselves_only(pack, tiny_tokenizer, train_rows):
    examples = _examples(pack, tiny_tokenizer, _two_queries(train_rows))
    group = [examples[i] for i in query_groups(examples)[0]]
    assert len(group) == 4 and len({e.task for e in group}) == 4
    k = prefix_len(group)
    assert k >= 20  # system turn, query and as_of: everything before the task tag
    batch = collate_packed(group, tiny_tokenizer.pad_token_id, TASKS, multiple_of=16)
    mask, pos, ids = batch["attention_mask"][0, 0], batch["position_ids"][0], batch["input_ids"][0]
    assert ids.shape[0] % 16 == 0 and int(batch["row_lengths"][0]) == packed_length(group)
    offset = k
    for e in group:
        n = len(e) - k
        branch = slice(offset, offset + n)
        assert ids[branch].tolist() == list(e.input_ids[k:])
        assert pos[branch].tolist() == list(range(k, len(e)))
        assert mask[offset + n - 1, :k].all() and mask[offset + n - 1, branch].all()
        assert int(mask[offset + n - 1].sum()) == k + n  # nothing of the other branches
        offset += n
    assert mask[offset:, :offset].sum() == 0  # padding sees nothing real


def test_packed_schedule_batches_whole_queries(pack, tiny_tokenizer, train_rows):
    examples = _examples(pack, tiny_tokenizer, train_rows)
    cfg = TrainingConfig(base_model="x", batch_size=3, max_steps=5, optimizer={"warmup_steps": 1})
    schedule = build_schedule(examples, cfg, seed=1)
    groups = query_groups(examples)
    assert len(schedule.batches) == 5
    for batch in schedule.batches:
        queries = Counter(examples[i].query for i in batch)
        assert len(queries) == 3
        for q, n in queries.items():
            assert n == sum(1 for e in examples if e.query == q)  # all of a query, never a part
    assert schedule.task_loss_weights == {}  # every task equally frequent: nothing to reweigh
    assert len({examples[i].query for b in schedule.batches for i in b}) == 15 <= len(groups)


def test_mixing_becomes_loss_weights_under_packing(pack, tiny_tokenizer, train_rows):
    examples = _examples(pack, tiny_tokenizer, train_rows)
    cfg = TrainingConfig(base_model="x", max_steps=2, optimizer={"warmup_steps": 1},
                         mixing={"strategy": "weights",
                                 "weights": {"date_interpretation": 2.0}})  # fmt: skip
    weights = build_schedule(examples, cfg, seed=1).task_loss_weights
    assert weights["date_interpretation"] == pytest.approx(1.6)  # (2/5) / (1/4)
    assert weights["query_classifier"] == pytest.approx(0.8)  # (1/5) / (1/4)


def test_task_loss_weights_scale_the_token_mean():
    import torch
    from mkd.training.loop import Trainer, _mean_loss

    t = Trainer(TrainingConfig(base_model="x"), *([None] * 7), val_batches=[], tasks=TASKS,
                device="cpu", autocast=None)  # fmt: skip
    losses = torch.tensor([1.0, 3.0, 3.0, 3.0])  # example 0: one answer token, example 1: three
    rows, task_ids = torch.tensor([0, 1, 1, 1]), torch.tensor([0, 3])
    ones = torch.ones(2)
    assert float(_mean_loss(t, losses, rows, task_ids, ones)) == pytest.approx(2.5)
    t.loss_weights = torch.tensor([3.0, 1.0, 1.0, 1.0])  # task 0 weighs three times as much
    assert float(_mean_loss(t, losses, rows, task_ids, ones)) == pytest.approx(2.0)


def test_example_weights_multiply_the_task_weights_when_decision_balanced():
    import torch
    from mkd.training.loop import Trainer, _mean_loss

    cfg = TrainingConfig(base_model="x", mixing={"decision_balance": 0.5})
    t = Trainer(cfg, *([None] * 7), val_batches=[], tasks=TASKS, device="cpu", autocast=None)
    losses = torch.tensor([1.0, 3.0, 3.0, 3.0])
    rows, task_ids = torch.tensor([0, 1, 1, 1]), torch.tensor([0, 3])
    example_w = torch.tensor(
        [3.0, 1.0]
    )  # example 0's one token weighs as much as example 1's three
    assert float(_mean_loss(t, losses, rows, task_ids, example_w)) == pytest.approx(2.0)
