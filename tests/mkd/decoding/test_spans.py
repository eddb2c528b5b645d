"""Strings a schema marks `x-mkd-span` (entity names, date phrases) are copied from the input.

The contract says a name is "the span as written in the query"; a student that has not seen a
name tends to write one it knows instead (Microsoft for mircosoft, a training company for a
new one). The decoder allows only tokens that keep such a string a substring of the input.
"""

from __future__ import annotations

import json

import pytest
import torch
from mkd.config import PipelineConfig
from mkd.decoding import ConstrainedDecoder
from mkd.decoding.grammar import Grammar, UnsupportedSchema
from mkd.models.uris import resolve_model_uri
from mkd.tasks import load_pack

from tests.mkd.decoding.test_token_boundaries import ScriptedModel

PACK = load_pack("finance")


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    ref = resolve_model_uri(PipelineConfig().training.base_model)
    return AutoTokenizer.from_pretrained(ref.path, gguf_file=ref.gguf_file)


def _decode(tokenizer, task: str, query: str, answer: str, spans: bool):
    prompt = tokenizer(f"Query: {query}\nTask: t", add_special_tokens=False)["input_ids"]
    target = prompt + tokenizer(answer, add_special_tokens=False)["input_ids"]
    model = ScriptedModel(target, len(tokenizer), tokenizer.eos_token_id)
    decoder = ConstrainedDecoder(model, tokenizer)
    schema = PACK.task(task).output_schema
    [result] = decoder.decode([prompt], [schema], [64], spans=[query] if spans else None)
    return result


@pytest.mark.parametrize(
    ("task", "query", "answer"),
    [
        ("entity_extractor", "Compare Apple's and mircosoft net sales",
         '[{"name":"Apple","type":"COMPANY"},{"name":"mircosoft","type":"COMPANY"},'
         '{"name":"net sales","type":"METRIC"}]'),
        ("date_interpretation", "revenue last year vs Q3 FY25",
         '[{"phrase":"last year","date_period":"YEAR","start":"2025-01-01","end":"2025-12-31"},'
         '{"phrase":"Q3 FY25","date_period":"QUARTER","start":"2025-07-01","end":"2025-09-30"}]'),
        ("entity_extractor", 'What is "free cash flow" for Zoho?',
         '[{"name":"free cash flow","type":"METRIC"},{"name":"Zoho","type":"COMPANY"}]'),
    ],
)  # fmt: skip
def test_a_model_copying_its_spans_keeps_its_answer(tokenizer, task, query, answer):
    result = _decode(tokenizer, task, query, answer, spans=True)
    assert result.ok and result.text == answer


def test_a_name_the_input_does_not_hold_is_not_written(tokenizer):
    query = "Compare mircosoft and Zoho margins"
    answer = '[{"name":"Microsoft","type":"COMPANY"}]'
    free = _decode(tokenizer, "entity_extractor", query, answer, spans=False)
    assert free.ok and free.value[0]["name"].startswith("Micro")
    copied = _decode(tokenizer, "entity_extractor", query, answer, spans=True)
    assert copied.ok
    assert all(item["name"] in query for item in copied.value), copied.text


def test_only_the_marked_strings_are_spans():
    schema = PACK.task("entity_extractor").output_schema
    g = Grammar(schema)
    inside = g.walk(g.start, b'[{"name":"Ap')
    assert g.in_span(inside)
    assert not g.in_span(g.walk(g.start, b'[{"name"'))
    assert not g.in_span(g.walk(inside, b'ple"'))
    assert not Grammar({"type": "string"}).has_spans


def test_a_span_with_a_pattern_is_refused_with_its_pointer():
    schema = {"type": "object", "properties": {"p": {"type": "string", "pattern": "^[a-z]+$",
                                                     "x-mkd-span": True}}}  # fmt: skip
    with pytest.raises(UnsupportedSchema, match="/properties/p/x-mkd-span"):
        Grammar(schema)


def test_other_tools_get_the_schema_without_mkd_hints():
    task = PACK.task("entity_extractor")
    assert "x-mkd-span" in json.dumps(task.output_schema)
    assert "x-mkd-span" not in json.dumps(task.standard_schema)
    assert task.schema_errors([{"name": "Apple", "type": "COMPANY"}]) == []


def test_substring_tokens_hold_the_source_pieces_and_the_closing_quote(tokenizer):
    decoder = ConstrainedDecoder(ScriptedModel([], len(tokenizer), 0), tokenizer)
    ids = set(decoder.index.substring_tokens(b"Zoho margins").tolist())
    for piece in ("Z", "margins", '"'):
        [tok] = tokenizer(piece, add_special_tokens=False)["input_ids"][-1:]
        assert tok in ids, piece
    assert torch.tensor(sorted(ids)).numel() < 2000
