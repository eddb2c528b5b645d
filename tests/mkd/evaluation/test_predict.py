"""Local prediction decodes as the served student does: under each task's JSON Schema."""

from __future__ import annotations

import json

from mkd.evaluation.predict import LocalPredictor, ModelSpec
from mkd.records import Record, canonical_json

RECORDS = [
    Record(input="Top 5 banks by net profit in FY2023", task="query_classifier"),
    Record(input="Compare Amazon and Walmart net sales in India", task="entity_extractor"),
    Record(input="Apple revenue in dollars last quarter", task="currency_identifier"),
    Record(input="Sales trend over the last 7 fiscal years", task="date_interpretation"),
]


def test_constrained_answers_of_a_random_model_are_all_valid(tiny_base, pack) -> None:
    preds = LocalPredictor(ModelSpec("tiny", str(tiny_base)), pack, max_new_tokens=24).predict(
        RECORDS
    )
    assert [p.violation for p in preds] == [None] * len(RECORDS)
    for record, pred in zip(RECORDS, preds, strict=True):
        value = json.loads(pred.output)
        assert pred.output == canonical_json(value)  # stored canonical, as every record
        assert pack.task(record.task).schema_errors(value) == []
        assert pred.prompt_tokens > 0 and pred.output_tokens > 0


def test_free_decoding_shows_the_contract_breaks_the_grammar_prevents(tiny_base, pack) -> None:
    free = LocalPredictor(
        ModelSpec("tiny", str(tiny_base)), pack, max_new_tokens=24, decoding="free"
    ).predict(RECORDS)
    # a random model writes random tokens: nothing it says parses as the task's JSON
    assert all(p.violation for p in free)
