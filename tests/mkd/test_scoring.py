"""Scoring: the article's numbers, violations, and properties that hold for any answer."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mkd.records import canonical_json
from mkd.scoring import aggregate, entity_overlap, score_item


def ents(*names: str, kind: str = "COMPANY") -> str:
    return json.dumps([{"name": n, "type": kind} for n in names])


def test_article_entity_example_intersection_over_truth(pack) -> None:
    s = score_item(
        pack.task("entity_extractor"), ents("Jio", "Airtel"), ents("Jio", "Airtel", "Vodafone")
    )
    assert s.score == 1.0
    assert s.precision == pytest.approx(2 / 3)
    assert s.f1 == pytest.approx(0.8)


def test_partial_credit_two_of_three(pack) -> None:
    s = score_item(pack.task("entity_extractor"), ents("A", "B", "C"), ents("a", " B "))
    assert s.score == pytest.approx(2 / 3)
    assert s.precision == 1.0


def test_empty_truth_scores_only_empty_answer(pack) -> None:
    task = pack.task("entity_extractor")
    assert score_item(task, "[]", "[]").score == 1.0
    assert score_item(task, "[]", ents("X")).score == 0.0


def test_currency_semantic_equality_ignores_key_order_and_spacing(pack) -> None:
    truth = '{"currency": "INR", "symbol": "₹", "mention": "explicit"}'
    pred = '{ "mention":"explicit","symbol":"₹" ,"currency":"INR"}'
    assert score_item(pack.task("currency_identifier"), truth, pred).score == 1.0


def test_unparseable_and_schema_invalid_are_violations_not_crashes(pack) -> None:
    task = pack.task("query_classifier")
    truth = '{"category": "LIST"}'
    for bad in ["{not json", '{"category": "LISTING"}', '["LIST"]', "", None]:
        s = score_item(task, truth, bad)
        assert s.score == 0.0 and s.violation
    agg = aggregate("query_classifier", [score_item(task, truth, b) for b in [truth, "x"]])
    assert agg.violation_rate == 0.5 and agg.score == 0.5


def test_date_item_partial_credit(pack) -> None:
    task = pack.task("date_interpretation")
    truth = canonical_json(
        [{"phrase": "FY2023", "date_period": "FY", "start": "2023-01-01", "end": "2023-12-31"}]
    )
    wrong_range = canonical_json(
        [{"phrase": "fy2023", "date_period": "FY", "start": "2023-04-01", "end": "2024-03-31"}]
    )
    wrong_phrase = canonical_json(
        [{"phrase": "2023", "date_period": "FY", "start": "2023-01-01", "end": "2023-12-31"}]
    )
    assert score_item(task, truth, truth).score == 1.0
    assert score_item(task, truth, wrong_range).score == 0.75
    assert score_item(task, truth, wrong_phrase).score == 0.5
    assert score_item(task, truth, "[]").score == 0.0


entity = st.fixed_dictionaries(
    {
        "name": st.text(st.characters(categories=["L", "N"]), min_size=1, max_size=8),
        "type": st.sampled_from(["COMPANY", "METRIC", "SECTOR", "GEOGRAPHY"]),
    }
)


@settings(max_examples=150, deadline=None)
@given(truth=st.lists(entity, max_size=5), pred=st.lists(entity, max_size=5))
def test_entity_scores_are_bounded(truth, pred) -> None:
    s = entity_overlap(truth, pred)
    for v in (s.score, s.precision, s.f1):
        assert 0.0 <= v <= 1.0


@settings(max_examples=100, deadline=None)
@given(items=st.lists(entity, max_size=5), data=st.data())
def test_perfect_answer_scores_one_whatever_order_and_whitespace(pack, items, data) -> None:
    shuffled = data.draw(st.permutations(items))
    pretty = json.dumps(shuffled, indent=data.draw(st.sampled_from([None, 1, 4])))
    assert score_item(pack.task("entity_extractor"), json.dumps(items), pretty).score == 1.0


@settings(max_examples=100, deadline=None)
@given(
    currency=st.sampled_from(["INR", "USD", "EUR", None]),
    mention=st.sampled_from(["explicit", "implicit"]),
    indent=st.sampled_from([None, 2]),
)
def test_key_order_never_changes_currency_score(pack, currency, mention, indent) -> None:
    obj = {"currency": currency, "symbol": "$" if currency else None, "mention": mention}
    reordered = json.dumps(dict(reversed(list(obj.items()))), indent=indent)
    s = score_item(pack.task("currency_identifier"), canonical_json(obj), reordered)
    assert s.score == 1.0
