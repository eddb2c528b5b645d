"""Loading the student (base + optional LoRA adapter) and greedy JSON generation."""

from __future__ import annotations

from typing import Any

from mkd.models.converted import pretrained_path
from mkd.models.uris import ModelRef, resolve_model_uri


def load_student(
    base_uri: str, adapter_path: str | None = None, dtype: str = "float32", merge: bool = False
) -> tuple[Any, Any]:
    """Load model and tokenizer from a base-model URI, with a PEFT adapter on top if given.

    Args:
        base_uri: see mkd.models.uris (a GGUF is dequantized to `dtype`).
        adapter_path: directory of a saved PEFT adapter.
        dtype: torch dtype name; float32 on CPU, bfloat16 on GPU nodes.
        merge: fold the adapter into the weights (faster inference, no adapter swapping).
    """
    import torch
    from transformers import AutoModelForCausalLM

    from mkd.models.stored import load_tokenizer

    ref = resolve_model_uri(base_uri)
    tokenizer = load_tokenizer(base_uri)
    tokenizer.padding_side = "left"  # batched generation appends after the prompt
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(
        pretrained_path(ref, "model"), dtype=getattr(torch, dtype)
    )
    if adapter_path:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, adapter_path)
        if merge:
            model = model.merge_and_unload()
    model.eval()
    return model, tokenizer


def drop_gguf_quantizer(model: Any) -> Any:
    """A model dequantized from GGUF refuses save_pretrained until its quantizer is dropped."""
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    return model


def chat_prompt_ids(tokenizer: Any, messages: list[dict]) -> list[int]:
    """Token ids of one conversation under the chat template, ready for the answer."""
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def generate_counted(
    model: Any, tokenizer: Any, conversations: list[list[dict]], max_new_tokens: int = 128
) -> tuple[list[str], list[int], list[int]]:
    """Greedy answers (batched, left-padded) with each item's prompt and output token counts
    (output up to its first EOS, counted as a server would; later EOS tokens are padding)."""
    import torch

    prompts = [
        tokenizer.apply_chat_template(m, tokenize=False, add_generation_prompt=True)
        for m in conversations
    ]
    enc = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
    enc = {k: v.to(model.device) for k, v in enc.items()}
    with torch.inference_mode():
        out = model.generate(
            **enc,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )
    new = out[:, enc["input_ids"].shape[1] :].cpu()  # [batch, generated]
    prompt_tokens = enc["attention_mask"].sum(dim=1).tolist()
    is_eos = new == tokenizer.eos_token_id
    output_tokens = [
        int(row.nonzero()[0].item()) + 1 if row.any() else new.shape[1] for row in is_eos
    ]
    texts = [t.strip() for t in tokenizer.batch_decode(new, skip_special_tokens=True)]
    return texts, prompt_tokens, output_tokens


def generate_json(
    model: Any, tokenizer: Any, messages_batch: list[list[dict]], max_new_tokens: int = 128
) -> list[str]:
    """Greedy-decode one answer per conversation (batched, left-padded)."""
    return generate_counted(model, tokenizer, messages_batch, max_new_tokens)[0]


__all__ = [
    "ModelRef",
    "chat_prompt_ids",
    "drop_gguf_quantizer",
    "generate_counted",
    "generate_json",
    "load_student",
]
