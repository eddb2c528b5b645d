"""A model that computes chosen logits only (`logits_index`, as the lean runtime does) is asked
for the tokens the decoder may choose, and the answers stay those of full logits.

The scripted model (test_token_boundaries) puts its weight on the next token of its trained
answer: if a forward's index left out a token the decoder needed (an allowed token, an enum
branch, the choice before a forced run's tail), that logit would be -inf and the answer
would derail. Span copying narrows the sets further, so the queries carry their spans."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from mkd.decoding import ConstrainedDecoder
from mkd.tasks import load_pack

from tests.mkd.decoding.test_token_boundaries import Output, ScriptedModel, tokenizer  # noqa: F401

PACK = load_pack("finance")


class IndexedScriptedModel(ScriptedModel):
    """ScriptedModel that returns only the logits of `logits_index` and records each size."""

    def __init__(self, target: list[int], vocab: int, eos: int) -> None:
        super().__init__(target, vocab, eos)
        self.config = SimpleNamespace(vocab_size=vocab)
        self.index_sizes: list[int | None] = []

    def forward(self, input_ids, attention_mask=None, position_ids=None, use_cache=True,
                logits_to_keep=1, past_key_values=None, logits_index=None):  # fmt: skip
        out = super().forward(input_ids, attention_mask, position_ids, use_cache,
                              logits_to_keep, past_key_values)  # fmt: skip
        self.index_sizes.append(None if logits_index is None else len(logits_index))
        if logits_index is None:
            return out
        return Output(out.logits[:, :, logits_index], out["past_key_values"])

    __call__ = forward


@pytest.mark.parametrize(
    ("task", "query", "answer"),
    [
        ("currency_identifier", "Startups above ₹500 crore", '{"mention":"implicit","currency":"INR","symbol":"₹"}'),
        ("currency_identifier", "Apple's margin", '{"mention":"none","currency":null,"symbol":null}'),
        ("entity_extractor", "Apple net sales in India",
         '[{"name":"Apple","type":"COMPANY"},{"name":"net sales","type":"METRIC"},{"name":"India","type":"GEOGRAPHY"}]'),
        ("date_interpretation", "revenue last year vs since 2023",
         '[{"phrase":"last year","date_period":"YEAR","start":"2025-01-01","end":"2025-12-31"},'
         '{"phrase":"since 2023","date_period":"YEAR","start":"2023-01-01","end":null}]'),
        ("query_classifier", "Screen for cheap banks", '{"category":"SCREEN"}'),
    ],
)  # fmt: skip
def test_indexed_logits_give_the_answers_of_full_logits(tokenizer, task, query, answer):  # noqa: F811
    prompt = tokenizer(f"Query: {query}\nTask: t", add_special_tokens=False)["input_ids"]
    target = prompt + tokenizer(answer, add_special_tokens=False)["input_ids"]
    results = {}
    for model in (ScriptedModel(target, len(tokenizer), tokenizer.eos_token_id),
                  IndexedScriptedModel(target, len(tokenizer), tokenizer.eos_token_id)):  # fmt: skip
        decoder = ConstrainedDecoder(model, tokenizer)
        [result] = decoder.decode([prompt], [PACK.task(task).output_schema], [64], spans=[query])
        results[type(model).__name__] = (result.text, result.forwards)
    assert (
        results["IndexedScriptedModel"]
        == results["ScriptedModel"]
        == (answer, results["ScriptedModel"][1])
    )
    # a free string (the currency's symbol) allows most of the vocabulary: full logits there
    indexed = [size for size in model.index_sizes if size is not None]
    assert indexed and max(indexed) <= len(tokenizer) // 8, model.index_sizes
