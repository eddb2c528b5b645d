"""A tiny Llama with a real tokenizer, saved as a local model directory (tests, smoke runs).

The weights are random (built from a config, no download); the tokenizer and chat template are
the real student's, so prompts, masking and generation behave exactly as with the real model.
serving/tiny.py builds another one on purpose: a 600-token BPE vocabulary of its own, so that the
serving tests' grammar indexes build in well under a second.
"""

from __future__ import annotations

from pathlib import Path

from mkd.models.uris import DEFAULT_STUDENT_URI


def build_tiny_student(
    directory: str | Path,
    tokenizer_uri: str = DEFAULT_STUDENT_URI,
    hidden: int = 64,
    layers: int = 2,
    max_positions: int = 512,
) -> Path:
    """Write a ~3.5M-parameter LlamaForCausalLM + the tokenizer of `tokenizer_uri` to `directory`."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from mkd.models.stored import load_tokenizer

    tokenizer = load_tokenizer(tokenizer_uri)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=max_positions,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    directory = Path(directory)
    model.save_pretrained(directory, safe_serialization=True)
    tokenizer.save_pretrained(directory)
    return directory
