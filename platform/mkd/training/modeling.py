"""The trainable student: base model by backend, LoRA on top, and the answer-only loss."""

from __future__ import annotations

from typing import Any

from mkd.config.training import TrainingConfig
from mkd.models.uris import resolve_model_uri
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
            model, tokenizer = load_student(cfg.base_model, dtype=base_dtype(cfg, device))
            model.to(device)
        layers = getattr(model.config, "num_hidden_layers", None)
        kwargs = lora_kwargs(cfg, layers, decoder_linear_names(model))
        model = get_peft_model(model, LoraConfig(**kwargs))
    tokenizer.padding_side = "right"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.train()
    return model, tokenizer


def decoder_linear_names(model: Any) -> list[str]:
    """The distinct names of the model's linear layers but the LM head (what PEFT's
    'all-linear' selects), e.g. q_proj ... down_proj for a Llama."""
    import torch

    head = model.get_output_embeddings()
    return sorted(
        {
            name.rsplit(".", 1)[-1]
            for name, module in model.named_modules()
            if isinstance(module, torch.nn.Linear) and module is not head
        }
    )


def base_dtype(cfg: TrainingConfig, device: Any) -> str:
    """The frozen base weights' dtype: bf16 on GPUs that have it (an 8B base is 16 GB, not 32);
    on a CPU by `cfg.precision` (auto: bf16 only where the processor has bf16 instructions)."""
    import torch

    from mkd.hardware import cpu_dtype

    if device.type == "cuda":
        native = torch.cuda.is_bf16_supported(including_emulation=False)
        return "bfloat16" if native else "float32"
    return cpu_dtype(cfg.precision)


def answer_logits(model: Any, batch: dict[str, Any]) -> Any:
    """Logits [N, V] at the positions whose next token is an answer token (`answer_index`).

    The LM head runs only on those positions: the prompt and the padding never reach the
    (vocabulary-sized) logits, which saves compute and memory. The positions come from collate
    (host side), so the step has no device sync. Models without a separable decoder fall back
    to the full forward.
    """
    index = batch["answer_index"]
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    decoder = base.get_decoder() if hasattr(base, "get_decoder") else None
    inputs = {"input_ids": batch["input_ids"], "attention_mask": _attention_mask(base, batch)}
    if "position_ids" in batch:  # packed rows: every branch continues the shared prefix
        inputs["position_ids"] = batch["position_ids"]
    if decoder is not None and base.get_output_embeddings() is not None:
        hidden = decoder(**inputs).last_hidden_state  # [B, T, H]
        return base.get_output_embeddings()(hidden.flatten(0, 1).index_select(0, index))
    return model(**inputs).logits.flatten(0, 1).index_select(0, index)  # [N, V]


def answer_token_losses(model: Any, batch: dict[str, Any]) -> tuple[Any, Any]:
    """Cross-entropy of every answer token and the batch example it belongs to."""
    import torch.nn.functional as F

    logits = answer_logits(model, batch)
    losses = F.cross_entropy(logits.float(), batch["answer_labels"], reduction="none")  # [N]
    return losses, batch["answer_rows"]


def _attention_mask(base: Any, batch: dict[str, Any]) -> Any:
    """The batch's mask in the form the model's attention takes: a packed batch's boolean 4D
    mask goes to SDPA as is; eager attention adds its mask to the scores, so it gets 0 / -inf."""
    import torch

    mask = batch["attention_mask"]
    if mask.dim() != 4 or getattr(base.config, "_attn_implementation", "sdpa") == "sdpa":
        return mask
    dtype = base.dtype
    return torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill_(
        ~mask, torch.finfo(dtype).min
    )
