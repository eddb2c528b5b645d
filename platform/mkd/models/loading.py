"""Loading the student (base + optional LoRA adapter) and greedy JSON generation."""

from __future__ import annotations

from typing import Any

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
    from transformers import AutoModelForCausalLM, AutoTokenizer

    ref = resolve_model_uri(base_uri)
    kwargs = {"gguf_file": ref.gguf_file} if ref.gguf_file else {}
    tokenizer = AutoTokenizer.from_pretrained(ref.path, **kwargs)
    tokenizer.padding_side = "left"  # batched generation appends after the prompt
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(ref.path, dtype=getattr(torch, dtype), **kwargs)
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


def generate_json(
    model: Any, tokenizer: Any, messages_batch: list[list[dict]], max_new_tokens: int = 128
) -> list[str]:
    """Greedy-decode one answer per conversation (batched, left-padded)."""
    import torch

    prompts = [
        tokenizer.apply_chat_template(m, tokenize=False, add_generation_prompt=True)
        for m in messages_batch
    ]
    enc = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
    with torch.inference_mode():
        out = model.generate(
            **enc,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )
    new = out[:, enc["input_ids"].shape[1] :]
    return [t.strip() for t in tokenizer.batch_decode(new, skip_special_tokens=True)]


__all__ = ["ModelRef", "drop_gguf_quantizer", "generate_json", "load_student"]
