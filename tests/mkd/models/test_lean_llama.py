"""LeanLlama reproduces transformers' Llama forward: logits, cache, padding and row moves."""

import torch
from mkd.models.lean_llama import LeanLlama, unsupported
from transformers import LlamaConfig, LlamaForCausalLM


def _llama(seed: int = 0, **overrides) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    cfg = dict(vocab_size=97, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
               num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
               tie_word_embeddings=True)  # fmt: skip
    model = LlamaForCausalLM(LlamaConfig(**{**cfg, **overrides}))
    for p in model.parameters():  # a wider init than 0.02, so logits differ visibly
        torch.nn.init.normal_(p, std=0.2)
    return model.eval()


def _reference(model, ids, mask, positions):
    with torch.no_grad():
        return model(input_ids=ids, attention_mask=mask, position_ids=positions).logits


def test_prefill_then_decode_matches_transformers_with_padding_and_positions():
    model = _llama()
    lean = LeanLlama(model)
    # row 1 is left-padded by two: its mask hides the pads, its positions start at its first token
    ids = torch.tensor([[5, 6, 7, 8, 9], [0, 0, 11, 12, 13]])
    mask = torch.tensor([[1, 1, 1, 1, 1], [0, 0, 1, 1, 1]])
    positions = torch.tensor([[0, 1, 2, 3, 4], [0, 0, 0, 1, 2]])
    out = lean(input_ids=ids, attention_mask=mask, position_ids=positions, past_key_values=None)
    ref = _reference(model, ids, mask, positions)
    assert torch.allclose(out.logits[0], ref[0], atol=1e-4)
    assert torch.allclose(out.logits[1, 2:], ref[1, 2:], atol=1e-4)

    cache = out.past_key_values
    for step in range(3):  # one token a row, the mask and the positions grown as the decoder does
        new = torch.tensor([[20 + step], [30 + step]])
        mask = torch.cat([mask, torch.ones(2, 1, dtype=torch.long)], dim=1)
        positions = torch.cat([positions, positions[:, -1:] + 1], dim=1)
        ids = torch.cat([ids, new], dim=1)
        out = lean(input_ids=new, attention_mask=mask, position_ids=positions[:, -1:],
                   past_key_values=cache, logits_to_keep=1)  # fmt: skip
        cache = out.past_key_values
        ref = _reference(model, ids, mask, positions)[:, -1]
        assert torch.allclose(out.logits[:, -1], ref, atol=1e-4), step
    assert cache.get_seq_length() == 8


def test_cache_rows_can_be_repeated_and_selected_as_the_decoder_does():
    model = _llama(1)
    lean = LeanLlama(model)
    prefix = torch.tensor([[3, 4, 5, 6]])
    cache = lean(input_ids=prefix, logits_to_keep=1).past_key_values
    cache.batch_repeat_interleave(3)
    suffixes = torch.tensor([[7, 8], [9, 10], [11, 12]])
    mask = torch.ones(3, 6, dtype=torch.long)
    out = lean(input_ids=suffixes, attention_mask=mask, position_ids=torch.tensor([[4, 5]] * 3),
               past_key_values=cache, logits_to_keep=1)  # fmt: skip
    full = torch.cat([prefix.expand(3, 4), suffixes], dim=1)
    assert torch.allclose(out.logits[:, -1], _reference(model, full, None, None)[:, -1], atol=1e-4)

    cache = out.past_key_values
    cache.batch_select_indices(torch.tensor([0, 2]))
    out = lean(input_ids=torch.tensor([[13], [14]]), attention_mask=torch.ones(2, 7),
               position_ids=torch.tensor([[6], [6]]), past_key_values=cache)  # fmt: skip
    full = torch.cat([full[[0, 2]], torch.tensor([[13], [14]])], dim=1)
    assert torch.allclose(out.logits[:, -1], _reference(model, full, None, None)[:, -1], atol=1e-4)


def test_the_cache_grows_past_its_first_capacity():
    model = _llama(2)
    lean = LeanLlama(model)
    ids = torch.randint(0, 97, (1, 150))
    out = lean(input_ids=ids[:, :100], logits_to_keep=1)
    out = lean(input_ids=ids[:, 100:], past_key_values=out.past_key_values, logits_to_keep=1)
    assert torch.allclose(out.logits[:, -1], _reference(model, ids, None, None)[:, -1], atol=1e-4)


def test_bf16_and_int8_decode_stay_close_to_float32():
    model = _llama(3, hidden_size=128, intermediate_size=256)
    ids = torch.randint(0, 97, (1, 12))
    exact = LeanLlama(model)(input_ids=ids, logits_to_keep=1).logits.flatten()
    for lean in (LeanLlama(model, "bfloat16"), LeanLlama(model, "bfloat16", int8_decode=True)):
        cache = lean(input_ids=ids[:, :11]).past_key_values  # 11 rows: a bf16 prefill
        last = lean(input_ids=ids[:, 11:], past_key_values=cache).logits.flatten().float()
        assert torch.cosine_similarity(last, exact, dim=0) > 0.99
    assert LeanLlama(model, "bfloat16", int8_decode=True).int8_decode
    assert not LeanLlama(model, "float32", int8_decode=True).int8_decode  # int8 needs bf16


def test_models_it_does_not_reproduce_are_named_and_left_alone():
    from peft import LoraConfig, get_peft_model

    model = _llama()
    assert unsupported(model) is None
    wrapped = get_peft_model(_llama(), LoraConfig(r=2, target_modules=["q_proj"]))
    assert "not merged" in unsupported(wrapped)
    scaled = _llama(rope_scaling={"rope_type": "linear", "factor": 2.0})
    assert "rope_type 'linear'" in unsupported(scaled)
    assert "biases" in unsupported(_llama(attention_bias=True))
    # a quantized layer among plain ones (bitsandbytes leaves layers narrower than a block)
    partly = _llama()
    partly.model.layers[1].mlp.down_proj = _FakeLinear4bit()
    assert "_FakeLinear4bit at 1.mlp.down_proj" in unsupported(partly)
    packed = _llama()
    packed.model.layers[0].mlp.up_proj.weight = torch.nn.Parameter(
        torch.zeros(96, 64, dtype=torch.uint8), requires_grad=False
    )
    assert "torch.uint8 weights at 0.mlp.up_proj" in unsupported(packed)


class _FakeLinear4bit(torch.nn.Module):
    """Stands in for bitsandbytes' Linear4bit (a Linear subclass with packed uint8 weights)."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(8, 1, dtype=torch.uint8), requires_grad=False)


def test_padding_queries_never_produce_nan():
    model = _llama(4)
    lean = LeanLlama(model)
    # a first forward whose row 1 is all padding but its last token (the decoder's narrow case)
    ids = torch.tensor([[1, 2, 3], [0, 0, 4]])
    out = lean(input_ids=ids, attention_mask=torch.tensor([[1, 1, 1], [0, 0, 1]]),
               position_ids=torch.tensor([[0, 1, 2], [0, 0, 0]]))  # fmt: skip
    assert not torch.isnan(out.logits).any()
    assert all(not torch.isnan(k).any() for k in out.past_key_values.keys)


def test_a_prompt_reuses_the_start_it_shares_with_the_last_one():
    model = _llama(5)
    lean = LeanLlama(model)
    system = [1, 2, 3, 4, 5, 6]
    for query in ([10, 11, 12], [20, 21], [30, 31, 32, 33]):
        ids = torch.tensor([system + query])
        out = lean(input_ids=ids, attention_mask=torch.ones_like(ids), logits_to_keep=1,
                   position_ids=torch.arange(ids.shape[1])[None])  # fmt: skip
        ref = _reference(model, ids, None, None)[:, -1]
        assert torch.allclose(out.logits[:, -1], ref, atol=1e-4)
        assert out.past_key_values.get_seq_length() == ids.shape[1]
    assert lean.reused_tokens == 2 * len(system)  # the first prompt had nothing to reuse
    # padding or a batch of rows: computed whole
    lean(input_ids=torch.tensor([[*system, 7]]), attention_mask=torch.tensor([[0] + [1] * 6]),
         logits_to_keep=1)  # fmt: skip
    lean(input_ids=torch.tensor([system, system]), logits_to_keep=1)
    assert lean.reused_tokens == 2 * len(system)


def test_logits_index_gives_those_columns_of_the_full_logits():
    model = _llama(4, hidden_size=128, intermediate_size=256)
    ids = torch.randint(0, 97, (2, 12))
    index = torch.tensor([3, 5, 40, 96])
    for lean in (LeanLlama(model), LeanLlama(model, "bfloat16", int8_decode=True)):
        cache = lean(input_ids=ids[:, :11]).past_key_values
        step = lean(input_ids=ids[:, 11:], past_key_values=cache, logits_to_keep=1)
        full = step.logits[:, :, index]
        cache = lean(input_ids=ids[:, :11]).past_key_values
        chosen = lean(input_ids=ids[:, 11:], past_key_values=cache, logits_to_keep=1,
                      logits_index=index).logits  # fmt: skip
        assert chosen.shape == (2, 1, 4)
        torch.testing.assert_close(chosen, full)
