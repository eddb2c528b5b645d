"""Jump-forward must feed the model the tokens it was trained on.

A scripted model knows one answer as its canonical tokens (what training fed it) and predicts
the next of them while what it was fed is a prefix of that sequence; fed anything else, it
derails (predicts the end). Before the fix, forced bytes were tokenized on their own: `":`
before a currency code (trained as `":"` + `IN`) and `"}` after a list's first entity (trained
as `"},` when the list goes on) turned every currency null and cut every entity list after
one item (entities 0.472 -> 0.167 for the same adapter on 30 test items).
"""

from __future__ import annotations

import pytest
import torch
from mkd.config import PipelineConfig
from mkd.decoding import ConstrainedDecoder
from mkd.models.uris import resolve_model_uri
from mkd.tasks import load_pack

PACK = load_pack("finance")


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    ref = resolve_model_uri(PipelineConfig().training.base_model)
    return AutoTokenizer.from_pretrained(ref.path, gguf_file=ref.gguf_file)


class Output(dict):
    def __init__(self, logits, cache) -> None:
        super().__init__(logits=logits, past_key_values=cache)
        self.logits = logits


class ScriptedModel:
    """Predicts the next token of `target` while the attended history follows it; EOS
    otherwise. Its cache keeps every slot fed, as a KV cache does; the attention mask says
    which ones count (a slot the decoder masked out is no longer history)."""

    def __init__(self, target: list[int], vocab: int, eos: int) -> None:
        self.target, self.vocab, self.eos = target, vocab, eos

    def forward(self, input_ids, attention_mask=None, position_ids=None, use_cache=True,
                logits_to_keep=1, past_key_values=None):  # fmt: skip
        slots = (past_key_values or []) + [int(t) for t in input_ids[0]]
        mask = [1] * len(slots) if attention_mask is None else attention_mask[0].tolist()
        logits = torch.zeros(1, logits_to_keep, self.vocab)
        for k in range(logits_to_keep):  # position k of the last `logits_to_keep`
            end = len(slots) - logits_to_keep + 1 + k
            fed = [t for t, m in zip(slots[:end], mask[:end], strict=True) if m]
            n = len(fed)
            on_script = fed == self.target[:n] and n < len(self.target)
            logits[0, k, self.target[n] if on_script else self.eos] = 1.0
        return Output(logits, slots)

    __call__ = forward


@pytest.mark.parametrize(
    ("task", "answer"),
    [
        ("currency_identifier", '{"mention":"implicit","currency":"INR","symbol":"₹"}'),
        ("currency_identifier", '{"mention":"none","currency":null,"symbol":null}'),
        ("entity_extractor", '[{"name":"Apple","type":"COMPANY"},{"name":"net sales","type":"METRIC"}]'),
        ("date_interpretation", '[{"phrase":"last year","date_period":"YEAR","start":"2025-01-01","end":"2025-12-31"}]'),
        ("date_interpretation", '[{"phrase":"since 2023","date_period":"YEAR","start":"2023-01-01","end":null}]'),
        ("query_classifier", '{"category":"SCREEN"}'),
    ],
)  # fmt: skip
def test_a_model_writing_its_trained_tokens_gets_its_answer_back(tokenizer, task, answer):
    prompt = tokenizer("Query: q\nTask: t", add_special_tokens=False)["input_ids"]
    target = prompt + tokenizer(answer, add_special_tokens=False)["input_ids"]
    model = ScriptedModel(target, len(tokenizer), tokenizer.eos_token_id)
    decoder = ConstrainedDecoder(model, tokenizer)
    [result] = decoder.decode([prompt], [PACK.task(task).output_schema], [64])
    assert result.ok and result.text == answer


def test_a_hand_back_is_spent_only_where_a_token_can_span_the_forced_end(tokenizer):
    decoder = ConstrainedDecoder(
        ScriptedModel([], len(tokenizer), tokenizer.eos_token_id), tokenizer
    )
    dates = decoder.grammar(PACK.task("date_interpretation").output_schema)
    head = b'[{"phrase":"last year","date_period":"YEAR","start":"2025'
    # SmolLM2 writes digits one token each: nothing merges with the `-` the pattern forces
    assert not decoder._may_merge(dates, dates.walk(dates.start, head), b"-")
    currency = decoder.grammar(PACK.task("currency_identifier").output_schema)
    head = b'{"mention":"implicit","currency'
    # `":` before a code was trained as `":"` + `IN`: that hand-back stays
    assert decoder._may_merge(currency, currency.walk(currency.start, head), b'":')


ANSWERS = [
    ("currency_identifier", '{"mention":"implicit","currency":"INR","symbol":"₹"}'),
    ("currency_identifier", '{"mention":"none","currency":null,"symbol":null}'),
    ("entity_extractor", '[{"name":"Apple","type":"COMPANY"},{"name":"net sales","type":"METRIC"}]'),
    ("date_interpretation", '[{"phrase":"last year","date_period":"YEAR","start":"2025-01-01","end":"2025-12-31"}]'),
    ("query_classifier", '{"category":"SCREEN"}'),
]  # fmt: skip


def test_jump_forward_halves_the_forwards_of_a_model_writing_its_trained_tokens(tokenizer):
    """The issue's target (>= 2x fewer forwards than token by token) on SmolLM2's real
    tokenizer, with a model that writes what training fed it, one answer at a time."""
    prompt = tokenizer("Query: q\nTask: t", add_special_tokens=False)["input_ids"]
    spent = {True: 0, False: 0}
    for task, answer in ANSWERS:
        target = prompt + tokenizer(answer, add_special_tokens=False)["input_ids"]
        for jump in spent:
            model = ScriptedModel(target, len(tokenizer), tokenizer.eos_token_id)
            decoder = ConstrainedDecoder(model, tokenizer, jump_forward=jump)
            [result] = decoder.decode([prompt], [PACK.task(task).output_schema], [64])
            assert result.ok and result.text == answer
            spent[jump] += result.forwards
    assert spent[False] >= 2 * spent[True], spent


SOURCE = "Amazon vs Walmart sales since 2023 in ₹"


class HandBackBeforeTheForward(ConstrainedDecoder):
    """The decoder without the veto: a forced run's last token that could merge with what
    follows is always left out of the forward, so the model spends one choosing it."""

    def _take_feed(self, s):
        ids = super()._take_feed(s)
        self._hand_back_tail(s, ids)
        return ids


@pytest.mark.parametrize(
    ("task", "answer", "saved"),
    [
        # `":"` before each copied name and the last item's `"}` before `]`: the model agrees
        # with the forced tokenization (the first item's `"}` is vetoed: `"},` was trained)
        ("entity_extractor", '[{"name":"Amazon","type":"COMPANY"},{"name":"Walmart","type":"COMPANY"}]', 3),
        # `":` before a code is vetoed (trained `":"` + `IN`): no saving, no extra forward
        ("currency_identifier", '{"mention":"implicit","currency":"INR","symbol":"₹"}', 0),
        # `":"` before the copied phrase and `":` before the null end are what training fed
        ("date_interpretation", '[{"phrase":"since 2023","date_period":"YEAR","start":"2023-01-01","end":null}]', 2),
    ],
)  # fmt: skip
def test_the_model_vetoes_a_forced_tail_in_the_same_forward(tokenizer, task, answer, saved):
    prompt = tokenizer("Query: q\nTask: t", add_special_tokens=False)["input_ids"]
    target = prompt + tokenizer(answer, add_special_tokens=False)["input_ids"]
    schema = PACK.task(task).output_schema
    spent = {}
    for cls in (ConstrainedDecoder, HandBackBeforeTheForward):
        decoder = cls(ScriptedModel(target, len(tokenizer), tokenizer.eos_token_id), tokenizer)
        [result] = decoder.decode([prompt], [schema], [64], spans=[SOURCE])
        assert result.ok and result.text == answer
        spent[cls] = result.forwards
    assert spent[HandBackBeforeTheForward] - spent[ConstrainedDecoder] == saved, spent
