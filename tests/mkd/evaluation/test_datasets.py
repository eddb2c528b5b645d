"""spread_sample: the evaluation sample covers many families, deterministically."""

from __future__ import annotations

from mkd.evaluation.datasets import spread_sample
from mkd.records import Record


def _records(families: int, per_family: int, task: str = "query_classifier") -> list[Record]:
    return [
        Record(input=f"query {f}-{i}", task=task, output='{"category":"LOOKUP"}', family=f"fin-{f}")
        for f in range(families)
        for i in range(per_family)
    ]


def test_one_item_per_family_before_any_family_counts_twice():
    picked = spread_sample(_records(families=10, per_family=8), ["query_classifier"], 10)
    assert len({r.family for r in picked}) == 10  # the first 10 in file order: 2 families


def test_rounds_continue_when_families_run_out():
    picked = spread_sample(_records(families=3, per_family=4), ["query_classifier"], 7)
    counts = sorted([r.family for r in picked].count(f"fin-{f}") for f in range(3))
    assert counts == [2, 2, 3]


def test_independent_of_file_order_and_capped_per_task():
    records = _records(6, 3) + _records(6, 3, task="currency_identifier")
    tasks = ["query_classifier", "currency_identifier"]
    forward = spread_sample(records, tasks, 4)
    backward = spread_sample(list(reversed(records)), tasks, 4)
    assert [r.input for r in forward] == [r.input for r in backward]
    assert sum(r.task == "currency_identifier" for r in forward) == 4


def test_no_cap_keeps_everything_of_the_tasks_asked_for():
    records = _records(3, 2) + _records(2, 2, task="entity_extractor")
    assert len(spread_sample(records, ["query_classifier"], None)) == 6
