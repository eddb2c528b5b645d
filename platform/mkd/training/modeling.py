"""The trainable student: base model by backend, LoRA on top, and the answer-only loss."""

from __future__ import annotations

from typing import Any

from mkd.config.training import TrainingConfig
from mkd.models.uris import resolve_model_uri
from mkd.training.data import IGNORE_INDEX
from mkd.training.gpu import load_qlora, load_unsloth, lora_kwargs


def build_student(cfg: TrainingConfig, device: Any) -> tuple[Any, Any]:
    """(PEFT model in train mode, tokenizer padding on the right) for `cfg.backend`."""
    from peft import LoraConfig, get_peft_model

    if cfg.backend == "unsloth":
        model, tokenizer = load_unsloth(cfg, resolve_model_uri(cfg.base_model).path)
    else:
        from mkd.models import load_student
        from mkd.models.stored import load_tokenizer

        if cfg.backend == "qlora":
            ref = resolve_model_uri(cfg.base_model)
            tokenizer = load_tokenizer(cfg.base_model)
            extra = {"gguf_file": ref.gguf_file} if ref.gguf_file else {}
            model = load_qlora(cfg, ref.path, device, **extra)
        else:
            model, tokenizer = load_student(cfg.base_model, dtype="float32")
            model.to(device)
        model = get_peft_model(model, LoraConfig(**lora_kwargs(cfg)))
    tokenizer.padding_side = "right"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.train()
    return model, tokenizer


def answer_token_losses(model: Any, batch: dict[str, Any]) -> tuple[Any, Any]:
    """Cross-entropy of every answer token and the batch row it belongs to.

    The LM head runs only on positions whose next token is an answer token: the prompt and the
    padding never reach the (vocabulary-sized) logits, which saves compute and memory. Models
    without a separable decoder fall back to the full forward.
    """
    import torch.nn.functional as F

    labels = batch["labels"][:, 1:]
    keep = labels != IGNORE_INDEX  # [B, T-1]
    rows = keep.nonzero(as_tuple=True)[0]
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    decoder = base.get_decoder() if hasattr(base, "get_decoder") else None
    if decoder is not None and base.get_output_embeddings() is not None:
        hidden = decoder(
            input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
        ).last_hidden_state  # [B, T, H]
        logits = base.get_output_embeddings()(hidden[:, :-1][keep])  # [N, V]
    else:
        out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
        logits = out.logits[:, :-1][keep]
    losses = F.cross_entropy(logits.float(), labels[keep], reduction="none")  # [N]
    return losses, rows
