from __future__ import annotations

from mkd.decoding.grammar import Grammar
from mkd.tasks import load_pack
from mkd.tasks.prompts import answer_text, list_ordered

SCHEMA = {
    "type": "array",
    "x-mkd-order-by": "type",
    "items": {
        "type": "object",
        "properties": {"name": {"type": "string"}, "type": {"enum": ["COMPANY", "METRIC"]}},
    },
}


def test_an_order_by_list_is_sorted_by_the_enum_and_stable_within_a_rank():
    items = [
        {"name": "ARR", "type": "METRIC"},
        {"name": "Zoho", "type": "COMPANY"},
        {"name": "x", "type": "OTHER"},
        {"name": "Ola", "type": "COMPANY"},
    ]
    assert [i["name"] for i in list_ordered(items, SCHEMA)] == ["Zoho", "Ola", "ARR", "x"]


def test_a_list_without_the_keyword_keeps_its_order():
    items = [{"name": "ARR", "type": "METRIC"}, {"name": "Zoho", "type": "COMPANY"}]
    assert list_ordered(items, {k: v for k, v in SCHEMA.items() if k != "x-mkd-order-by"}) == items


def test_the_student_answer_lists_entities_in_the_pack_order():
    spec = load_pack("finance").task("entity_extractor")
    text = answer_text(
        [{"name": "ARR", "type": "METRIC"}, {"name": "Zoho", "type": "COMPANY"}], spec.output_schema
    )
    assert text == '[{"name":"Zoho","type":"COMPANY"},{"name":"ARR","type":"METRIC"}]'
    assert "x-mkd-order-by" not in str(spec.standard_schema)  # teachers and vLLM never see it


def test_the_grammar_takes_the_keyword_as_an_annotation():
    Grammar(SCHEMA)
