"""GPU backends: QLoRA (bitsandbytes nf4), Unsloth, DeepSpeed ZeRO-2/3.

The `*_kwargs`/`*_config` functions are pure (config -> library arguments) and tested without a
GPU; the loaders import bitsandbytes, unsloth and deepspeed only when called, so a CPU install
never imports them.
"""

from __future__ import annotations

from typing import Any

from mkd.config.training import TrainingConfig


def lora_kwargs(
    cfg: TrainingConfig, num_layers: int | None = None, linear_names: list[str] | None = None
) -> dict[str, Any]:
    """Arguments of peft.LoraConfig (also the base of Unsloth's get_peft_model).

    With `lora.top_layers` set, `num_layers` (the base model's decoder layers) and, for
    'all-linear', `linear_names` (its linear modules' names) are needed: PEFT takes a layer
    selection only with an explicit module list.
    """
    kwargs = {
        "r": cfg.lora.r,
        "lora_alpha": cfg.lora.alpha,
        "lora_dropout": cfg.lora.dropout,
        "target_modules": cfg.lora.target_modules,
        "bias": "none",
        "task_type": "CAUSAL_LM",
    }
    top = cfg.lora.top_layers
    if top and num_layers and top < num_layers:
        kwargs["layers_to_transform"] = list(range(num_layers - top, num_layers))
        if kwargs["target_modules"] == "all-linear":
            kwargs["target_modules"] = linear_names or _UNSLOTH_ALL_LINEAR
    return kwargs


def qlora_quantization_kwargs(cfg: TrainingConfig) -> dict[str, Any]:
    """Arguments of transformers.BitsAndBytesConfig: 4-bit nf4 base, double quantization."""
    return {
        "load_in_4bit": True,
        "bnb_4bit_quant_type": "nf4",
        "bnb_4bit_use_double_quant": True,
        "bnb_4bit_compute_dtype": "bfloat16" if cfg.scaling.use_gpu else "float32",
    }


_UNSLOTH_ALL_LINEAR = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def unsloth_kwargs(cfg: TrainingConfig, model_name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(FastLanguageModel.from_pretrained args, FastLanguageModel.get_peft_model args)."""
    targets = cfg.lora.target_modules
    load = {
        "model_name": model_name,
        "max_seq_length": cfg.max_seq_len,
        "load_in_4bit": True,
        "dtype": None,  # Unsloth picks bf16 where the GPU has it
    }
    peft = {
        "r": cfg.lora.r,
        "lora_alpha": cfg.lora.alpha,
        "lora_dropout": cfg.lora.dropout,
        "target_modules": _UNSLOTH_ALL_LINEAR if targets == "all-linear" else list(targets),
        "bias": "none",
        "use_gradient_checkpointing": "unsloth",
        "random_state": cfg.seed if cfg.seed is not None else 3407,
    }
    return load, peft


def deepspeed_config(cfg: TrainingConfig, world_size: int) -> dict[str, Any]:
    """A DeepSpeed config dict for ZeRO stage 2 or 3 (the loop keeps its own lr schedule)."""
    if cfg.deepspeed_stage not in (2, 3):
        raise ValueError(f"deepspeed_stage: {cfg.deepspeed_stage} is not a ZeRO stage (2 or 3)")
    zero: dict[str, Any] = {
        "stage": cfg.deepspeed_stage,
        "overlap_comm": True,
        "contiguous_gradients": True,
        "reduce_bucket_size": 5e7,
    }
    if cfg.deepspeed_stage == 3:
        zero.update(
            stage3_gather_16bit_weights_on_model_save=True,
            stage3_prefetch_bucket_size=5e7,
            stage3_param_persistence_threshold=1e5,
        )
    return {
        "train_micro_batch_size_per_gpu": cfg.batch_size,
        "gradient_accumulation_steps": cfg.grad_accum,
        "train_batch_size": cfg.batch_size * cfg.grad_accum * world_size,
        "gradient_clipping": cfg.grad_clip or 0.0,
        "bf16": {"enabled": cfg.autocast != "off"},
        "zero_optimization": zero,
        "steps_per_print": 10**9,  # the loop logs; keep DeepSpeed quiet
    }


def load_qlora(cfg: TrainingConfig, path: str, device: Any, **kwargs: Any) -> Any:
    """The base model quantized to nf4 by bitsandbytes, prepared for k-bit training."""
    from peft import prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    q = qlora_quantization_kwargs(cfg)
    import torch

    q["bnb_4bit_compute_dtype"] = getattr(torch, q["bnb_4bit_compute_dtype"])
    model = AutoModelForCausalLM.from_pretrained(
        path, quantization_config=BitsAndBytesConfig(**q), device_map={"": device}, **kwargs
    )
    return prepare_model_for_kbit_training(model, use_gradient_checkpointing=cfg.scaling.use_gpu)


def load_unsloth(cfg: TrainingConfig, model_name: str) -> tuple[Any, Any]:
    """Unsloth's 4-bit base with LoRA on top (the article's path); returns (model, tokenizer)."""
    from unsloth import FastLanguageModel

    load, peft = unsloth_kwargs(cfg, model_name)
    model, tokenizer = FastLanguageModel.from_pretrained(**load)
    return FastLanguageModel.get_peft_model(model, **peft), tokenizer


def deepspeed_engine(cfg: TrainingConfig, model: Any, optimizer: Any, world_size: int) -> Any:
    """deepspeed.initialize over the PEFT model and the loop's own AdamW."""
    import deepspeed

    engine, *_ = deepspeed.initialize(
        model=model, optimizer=optimizer, config=deepspeed_config(cfg, world_size)
    )
    return engine
