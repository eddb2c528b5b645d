"""The schema -> byte automaton compiler: the student's answers (schema key order) accepted,
invalid ones refused."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mkd.decoding.grammar import DEAD, Grammar
from mkd.records import canonical_json
from mkd.tasks import load_pack
from mkd.tasks.prompts import answer_text

PACK = load_pack("finance")


def accepts(grammar: Grammar, text: str) -> bool:
    state = grammar.walk(grammar.start, text.encode())
    return state != DEAD and grammar.accepting(state)


@pytest.mark.parametrize("task", list(PACK.tasks))
def test_every_example_answer_is_in_the_language(task):
    spec = PACK.task(task)
    grammar = Grammar(spec.output_schema)
    for ex in spec.examples:
        assert accepts(grammar, answer_text(ex.output, spec.output_schema)), ex.output


def test_keys_come_in_schema_order_not_sorted():
    spec = PACK.task("date_interpretation")
    value = [{"phrase": "FY2023", "date_period": "FY", "start": "2023-01-01", "end": "2023-12-31"}]
    grammar = Grammar(spec.output_schema)
    assert accepts(grammar, answer_text(value, spec.output_schema))
    assert answer_text(value, spec.output_schema).startswith('[{"phrase":"FY2023",')
    assert not accepts(grammar, canonical_json(value))  # sorted: date_period first


@pytest.mark.parametrize(
    ("task", "text"),
    [
        ("query_classifier", '{"category":"SHOPPING"}'),
        ("query_classifier", '{"category": "LIST"}'),  # not canonical: a space
        ("query_classifier", '{"category":"LIST","x":1}'),
        ("currency_identifier", '{"mention":"explicit","currency":"usd","symbol":"$"}'),
        (
            "date_interpretation",
            '[{"phrase":"x","date_period":"FY","start":null,"end":"2023-1-1"}]',
        ),
        ("entity_extractor", '[{"name":"","type":"COMPANY"}]'),  # minLength 1
        ("entity_extractor", '[{"name":"Amazon","type":"COMPANY"},]'),
    ],
)
def test_invalid_answers_are_refused(task, text):
    assert not accepts(Grammar(PACK.task(task).output_schema), text)


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ('{"mention":"none","currency":"USD","symbol":"$"}', False),  # then: nulls for none
        ('{"mention":"none","currency":null,"symbol":"$"}', False),
        ('{"mention":"none","currency":null,"symbol":null}', True),
        ('{"mention":"implicit","currency":"USD","symbol":"$"}', True),
        ('{"mention":"explicit","currency":null,"symbol":null}', True),  # the schema allows it
    ],
)
def test_the_currency_if_then_rule_is_in_the_language(text, valid):
    spec = PACK.task("currency_identifier")
    assert (spec.schema_errors(json.loads(text)) == []) is valid
    assert accepts(Grammar(spec.output_schema), text) is valid


def test_structure_is_forced_and_enum_start_is_detected():
    grammar = Grammar(PACK.task("query_classifier").output_schema)
    assert grammar.forced(grammar.start) == b'{"category":'
    state = grammar.walk(grammar.start, b'{"category":')
    assert len(grammar.enum_literals(state)) == 10
    assert grammar.forced(grammar.walk(state, b'"LOOK')) == b'UP"}'


def test_date_pattern_forces_the_dashes():
    grammar = Grammar(PACK.task("date_interpretation").output_schema)
    state = grammar.walk(grammar.start, b'[{"phrase":"FY23","date_period":"FY","start":"2023')
    assert grammar.forced(state) == b"-"


entity = st.fixed_dictionaries(
    {
        "name": st.text(
            # no lone surrogates (category Cs): they have no UTF-8 form, so no model emits them
            st.characters(
                blacklist_characters='"\\', blacklist_categories=("Cs",), min_codepoint=32
            ),
            min_size=1,
            max_size=12,
        ),
        "type": st.sampled_from(["COMPANY", "METRIC", "SECTOR", "GEOGRAPHY"]),
    }
)


@settings(max_examples=60, deadline=None)
@given(st.lists(entity, max_size=4))
def test_any_schema_valid_entity_list_is_accepted(entities):
    spec = PACK.task("entity_extractor")
    assert spec.schema_errors(entities) == []
    assert accepts(Grammar(spec.output_schema), answer_text(entities, spec.output_schema))


@pytest.mark.parametrize("task", list(PACK.tasks))
def test_shortest_completion_from_any_prefix_is_schema_valid(task):
    spec = PACK.task(task)
    grammar = Grammar(spec.output_schema)
    for ex in spec.examples:
        text = answer_text(ex.output, spec.output_schema).encode()
        for cut in range(len(text)):
            if cut < len(text) and 0x80 <= text[cut] < 0xC0:
                continue  # inside a multi-byte character
            state = grammar.walk(grammar.start, text[:cut])
            tail = grammar.shortest_completion(state)
            value = json.loads((text[:cut] + tail).decode())
            assert spec.schema_errors(value) == [], (text[:cut], tail)
