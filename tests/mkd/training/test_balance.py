from __future__ import annotations

import json

import pytest
from mkd.records import Record
from mkd.tasks import load_pack
from mkd.training.balance import balanced_weights, decision_of

CURRENCY_NONE = {"currency": None, "mention": "none", "symbol": None}
CURRENCY_INR = {"currency": "INR", "mention": "implicit", "symbol": "₹"}


def _record(task: str, output) -> Record:
    return Record(input="q", task=task, output=json.dumps(output))


def test_the_decision_is_the_first_property_in_schema_order_or_list_emptiness():
    pack = load_pack("finance")
    schema = pack.task("currency_identifier").output_schema
    assert decision_of(CURRENCY_NONE, schema) == "mention='none'"
    assert decision_of([], {}) == "empty"
    assert decision_of([{"phrase": "2024"}], {}) == "items"


def test_rare_decisions_weigh_more_and_each_task_keeps_a_mean_weight_of_one():
    pack = load_pack("finance")
    records = [_record("currency_identifier", CURRENCY_NONE)] * 3 + [
        _record("currency_identifier", CURRENCY_INR),
        _record("date_interpretation", []),
    ]
    w = balanced_weights(records, pack, alpha=1.0)
    assert w[3] == pytest.approx(3 * w[0])  # share 1/4 against 3/4
    assert sum(w[:4]) / 4 == pytest.approx(1.0)
    assert w[4] == pytest.approx(1.0)  # a task with one decision class is unchanged


def test_alpha_zero_weighs_every_example_alike():
    pack = load_pack("finance")
    records = [
        _record("currency_identifier", CURRENCY_NONE),
        _record("currency_identifier", CURRENCY_INR),
    ]
    assert balanced_weights(records, pack, alpha=0.0) == [1.0, 1.0]
