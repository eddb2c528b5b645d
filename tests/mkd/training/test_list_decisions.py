from __future__ import annotations

import json

import pytest
from mkd.records import Record
from mkd.tasks import load_pack
from mkd.training.data import encode_records
from mkd.training.list_decisions import decision_token_weights, list_decision_chars

ENTITIES = '[{"name":"ARR","type":"METRIC"},{"name":"Zoho","type":"COMPANY"}]'


def test_the_decisions_are_after_the_open_bracket_and_around_each_item_end():
    first_end = ENTITIES.index("},")
    assert list_decision_chars(ENTITIES) == {
        0, 1, first_end, first_end + 1, len(ENTITIES) - 2, len(ENTITIES) - 1,
    }  # fmt: skip
    assert list_decision_chars("[]") == {0, 1}
    assert list_decision_chars('["a,b","c"]') == {0, 1, 5, 6, 9, 10}


def test_braces_and_quotes_inside_strings_are_not_items():
    answer = '[{"name":"a}\\"],b","type":"X"}]'
    end = len(answer) - 2
    assert list_decision_chars(answer) == {0, 1, end, end + 1}


def test_an_object_answer_has_no_list_decisions():
    assert list_decision_chars('{"currency":"INR","mention":"implicit"}') == set()


def test_a_token_gets_the_weight_when_its_span_holds_a_decision_char():
    offsets = [(0, 1), (1, 3), (3, 7), (7, 9), (9, 10)]
    assert decision_token_weights(offsets, {0, 8}, 4.0) == (4.0, 1.0, 1.0, 4.0, 1.0)


def test_encoded_entity_answers_weigh_the_item_end_tokens(tiny_tokenizer):
    pack = load_pack("finance")
    record = Record(input="ARR for Zoho", task="entity_extractor", output=ENTITIES)
    plain = encode_records(tiny_tokenizer, pack, [record], 256)[0]
    ex = encode_records(tiny_tokenizer, pack, [record], 256, list_decision_weight=3.0)[0]
    assert ex.input_ids == plain.input_ids and plain.token_weights == ()
    answer = ex.input_ids[ex.prompt_len :]
    assert len(ex.token_weights) == len(answer) and ex.token_weights[-1] == 1.0  # eos
    heavy = [
        tiny_tokenizer.decode([t])
        for t, w in zip(answer, ex.token_weights, strict=True)
        if w == 3.0
    ]
    text = "".join(heavy)
    assert text.startswith("[") and text.count("}") == 2 and "Zoho" not in text
    light = sum(1 for w in ex.token_weights if w == 1.0)
    assert light > len(heavy)


def test_a_currency_answer_is_not_weighted(tiny_tokenizer):
    pack = load_pack("finance")
    out = json.dumps({"currency": "INR", "mention": "implicit", "symbol": "₹"})
    record = Record(input="Zoho ARR", task="currency_identifier", output=out)
    ex = encode_records(tiny_tokenizer, pack, [record], 256, list_decision_weight=3.0)[0]
    assert set(ex.token_weights) == {1.0}


def test_the_weight_is_bounded_in_config():
    from mkd.config.training import TrainingConfig

    with pytest.raises(ValueError, match="list_decision_weight"):
        TrainingConfig(base_model="x", mixing={"list_decision_weight": 0.5})
