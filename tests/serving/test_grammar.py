"""The schema -> byte automaton compiler: canonical answers accepted, invalid ones refused."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mkd.records import canonical_json
from mkd.tasks import load_pack

from serving.decoding.grammar import DEAD, Grammar

PACK = load_pack("finance")


def accepts(grammar: Grammar, text: str) -> bool:
    state = grammar.walk(grammar.start, text.encode())
    return state != DEAD and grammar.accepting(state)


@pytest.mark.parametrize("task", list(PACK.tasks))
def test_every_example_answer_is_in_the_language(task):
    spec = PACK.task(task)
    grammar = Grammar(spec.output_schema)
    for ex in spec.examples:
        assert accepts(grammar, canonical_json(ex.output)), ex.output


@pytest.mark.parametrize(
    ("task", "text"),
    [
        ("query_classifier", '{"category":"SHOPPING"}'),
        ("query_classifier", '{"category": "LIST"}'),  # not canonical: a space
        ("query_classifier", '{"category":"LIST","x":1}'),
        ("currency_identifier", '{"currency":"usd","mention":"explicit","symbol":"$"}'),
        (
            "date_interpretation",
            '[{"date_period":"FY","end":"2023-1-1","phrase":"x","start":null}]',
        ),
        ("entity_extractor", '[{"name":"","type":"COMPANY"}]'),  # minLength 1
        ("entity_extractor", '[{"name":"Amazon","type":"COMPANY"},]'),
    ],
)
def test_invalid_answers_are_refused(task, text):
    assert not accepts(Grammar(PACK.task(task).output_schema), text)


def test_structure_is_forced_and_enum_start_is_detected():
    grammar = Grammar(PACK.task("query_classifier").output_schema)
    assert grammar.forced(grammar.start) == b'{"category":'
    state = grammar.walk(grammar.start, b'{"category":')
    assert len(grammar.enum_literals(state)) == 10
    assert grammar.forced(grammar.walk(state, b'"LOOK')) == b'UP"}'


def test_date_pattern_forces_the_dashes():
    grammar = Grammar(PACK.task("date_interpretation").output_schema)
    state = grammar.walk(grammar.start, b'[{"date_period":"FY","end":"2023')
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
    assert accepts(Grammar(spec.output_schema), canonical_json(entities))


@pytest.mark.parametrize("task", list(PACK.tasks))
def test_shortest_completion_from_any_prefix_is_schema_valid(task):
    spec = PACK.task(task)
    grammar = Grammar(spec.output_schema)
    for ex in spec.examples:
        text = canonical_json(ex.output).encode()
        for cut in range(len(text)):
            if cut < len(text) and 0x80 <= text[cut] < 0xC0:
                continue  # inside a multi-byte character
            state = grammar.walk(grammar.start, text[:cut])
            tail = grammar.shortest_completion(state)
            value = json.loads((text[:cut] + tail).decode())
            errors = spec.schema_errors(value)
            # if/then (mention none => nulls) is validated afterwards, not encoded
            assert not [e for e in errors if "is not of type 'null'" not in e], (text[:cut], tail)
