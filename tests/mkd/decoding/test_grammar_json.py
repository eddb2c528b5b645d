"""The grammar's JSON beyond the finance pack: numbers, optional keys, string escapes, and the
schema constructs it refuses (with the JSON pointer of the node)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mkd.decoding.grammar import DEAD, Grammar, UnsupportedSchema
from mkd.tasks.prompts import answer_text


def accepts(grammar: Grammar, text: str) -> bool:
    state = grammar.walk(grammar.start, text.encode())
    return state != DEAD and grammar.accepting(state)


NUMBER = Grammar({"type": "number", "minimum": 0})


@pytest.mark.parametrize(
    "text", ["0", "-0", "7", "12.5", "0.25", "-3.0e10", "1E-7", "2e+3", "10.01E2"]
)
def test_json_numbers_are_accepted(text):
    assert accepts(NUMBER, text)


@pytest.mark.parametrize("text", ["01", "+1", ".5", "1.", "1e", "1e+", "--1", "0x10", "1.2.3", ""])
def test_non_json_numbers_are_refused(text):
    assert not accepts(NUMBER, text)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.integers(), st.floats(allow_nan=False, allow_infinity=False)))
def test_any_python_number_round_trips(value):
    text = json.dumps(value)
    assert accepts(NUMBER, text), text
    assert json.loads(text) == value


OPTIONAL = {
    "type": "object",
    "properties": {
        "a": {"type": "integer"},
        "b": {"type": "string"},
        "c": {"type": "boolean"},
        "d": {"type": "null"},
    },
    "required": ["b"],
}


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ('{"b":"x"}', True),
        ('{"a":1,"b":"x"}', True),
        ('{"b":"x","c":true}', True),
        ('{"a":1,"b":"x","c":false,"d":null}', True),
        ('{"b":"x","d":null}', True),
        ("{}", False),  # b is required
        ('{"a":1}', False),
        ('{"b":"x","a":1}', False),  # properties order
        ('{,"b":"x"}', False),
        ('{"b":"x",}', False),
        ('{"a":1,,"b":"x"}', False),
        ('{"b":"x","c":true,"c":true}', False),
    ],
)
def test_optional_keys_present_or_absent_in_properties_order(text, valid):
    assert accepts(Grammar(OPTIONAL), text) is valid


def test_all_optional_object_takes_the_empty_object_and_any_subset():
    schema = {"type": "object", "properties": {"x": {"type": "integer"}, "y": {"type": "number"}}}
    grammar = Grammar(schema)
    for text in ["{}", '{"x":1}', '{"y":2.5}', '{"x":1,"y":2}']:
        assert accepts(grammar, text), text
    assert not accepts(grammar, '{"y":1,"x":2}')


def test_shortest_completion_leaves_optional_keys_out():
    grammar = Grammar(OPTIONAL)
    assert grammar.shortest_completion(grammar.start) == b'{"b":""}'
    state = grammar.walk(grammar.start, b'{"a":')
    assert json.loads(b'{"a":' + grammar.shortest_completion(state)) == {"a": 0, "b": ""}


STRING = Grammar({"type": "string"})


@pytest.mark.parametrize(
    "text",
    [r'"say \"hi\""', r'"C:\\temp"', r'"a\/b"', r'"\b\f\n\r\t"', r'"\u00e9\u20AC"', '"€ ok"'],
)
def test_string_escapes_are_accepted(text):
    assert accepts(STRING, text)


@pytest.mark.parametrize(
    "text", [r'"\x41"', r'"\u12"', r'"\"', '"a"b"', '"tab\there"', r'"\U0041"']
)
def test_bad_escapes_and_raw_controls_are_refused(text):
    assert not accepts(STRING, text)


@settings(max_examples=200, deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cs",)), max_size=20))
def test_any_string_round_trips_as_the_student_writes_it(value):
    text = answer_text(value, {"type": "string"})  # ensure_ascii=False: escapes only when needed
    assert accepts(STRING, text), text
    assert accepts(STRING, json.dumps(value))  # \uXXXX for everything outside ASCII


record = st.fixed_dictionaries(
    {"b": st.text(st.characters(blacklist_categories=("Cs",)), max_size=8)},
    optional={"a": st.integers(), "c": st.booleans(), "d": st.none()},
)


@settings(max_examples=200, deadline=None)
@given(record)
def test_any_valid_object_with_optional_keys_round_trips(value):
    text = answer_text(value, OPTIONAL)
    assert accepts(Grammar(OPTIONAL), text), text
    assert json.loads(text) == value


def test_max_length_counts_an_escape_as_one_character():
    grammar = Grammar({"type": "string", "maxLength": 2})
    assert accepts(grammar, r'"\"\\"')
    assert not accepts(grammar, r'"\"\\x"')


@pytest.mark.parametrize(
    ("schema", "pointer"),
    [
        ({"type": "object", "properties": {"a": {"$ref": "#/x"}}}, "/properties/a/$ref"),
        ({"type": "array", "items": {"allOf": []}}, "/items/allOf"),
        ({"anyOf": [{"type": "string"}, {"not": {}}]}, "/anyOf/1/not"),
        ({"type": "object", "properties": {"a/b": {"type": "date"}}}, "/properties/a~1b/type"),
        ({"type": "array", "items": {"type": "string"}, "maxItems": 3}, "/maxItems"),
        ({"type": "object", "properties": {}, "required": ["k"]}, "/required/0"),
        ({"type": "object", "patternProperties": {}}, "/patternProperties"),
    ],
)
def test_unsupported_constructs_are_refused_with_their_pointer(schema, pointer):
    with pytest.raises(UnsupportedSchema) as err:
        Grammar(schema)
    assert err.value.pointer == pointer
    assert str(err.value).startswith(pointer + ":")
