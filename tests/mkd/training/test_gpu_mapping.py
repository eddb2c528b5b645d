"""Config -> library arguments for QLoRA, Unsloth and DeepSpeed: checked without a GPU."""

import subprocess
import sys

import pytest
from mkd.config import ConfigError, parse_config
from mkd.config.training import TrainingConfig
from mkd.training.gpu import (
    deepspeed_config,
    lora_kwargs,
    qlora_quantization_kwargs,
    unsloth_kwargs,
)


def gpu_cfg(**kw) -> TrainingConfig:
    return TrainingConfig(scaling={"use_gpu": True, "num_workers": 4}, **kw)


def test_qlora_is_nf4_double_quant_bf16_compute():
    cfg = gpu_cfg(backend="qlora")
    assert qlora_quantization_kwargs(cfg) == {
        "load_in_4bit": True,
        "bnb_4bit_quant_type": "nf4",
        "bnb_4bit_use_double_quant": True,
        "bnb_4bit_compute_dtype": "bfloat16",
    }
    import torch
    from transformers import BitsAndBytesConfig  # the arguments are accepted as they are

    q = qlora_quantization_kwargs(cfg)
    q["bnb_4bit_compute_dtype"] = torch.bfloat16
    assert BitsAndBytesConfig(**q).bnb_4bit_quant_type == "nf4"


def test_lora_defaults_to_all_linear():
    kw = lora_kwargs(TrainingConfig(lora={"r": 8, "alpha": 16, "dropout": 0.05}))
    assert kw["target_modules"] == "all-linear" and kw["r"] == 8 and kw["lora_alpha"] == 16
    from peft import LoraConfig

    assert LoraConfig(**kw).lora_dropout == 0.05


def test_unsloth_arguments():
    cfg = gpu_cfg(backend="unsloth", packing="none", max_seq_len=1024, seed=7, lora={"r": 32})
    load, peft = unsloth_kwargs(cfg, "meta-llama/Llama-3.1-8B")
    assert load == {"model_name": "meta-llama/Llama-3.1-8B", "max_seq_length": 1024,
                    "load_in_4bit": True, "dtype": None}  # fmt: skip
    assert peft["r"] == 32 and peft["random_state"] == 7
    assert "down_proj" in peft["target_modules"]  # all-linear spelled out for Unsloth
    assert peft["use_gradient_checkpointing"] == "unsloth"


@pytest.mark.parametrize("stage", [2, 3])
def test_deepspeed_zero_config(stage):
    cfg = gpu_cfg(deepspeed_stage=stage, batch_size=4, grad_accum=8, grad_clip=0.5)
    ds = deepspeed_config(cfg, world_size=4)
    assert ds["zero_optimization"]["stage"] == stage
    assert ds["train_batch_size"] == 4 * 8 * 4
    assert ds["train_micro_batch_size_per_gpu"] == 4 and ds["gradient_clipping"] == 0.5
    assert ("stage3_gather_16bit_weights_on_model_save" in ds["zero_optimization"]) == (stage == 3)


def test_gpu_only_settings_are_refused_on_cpu():
    with pytest.raises(ConfigError, match=r"training: backend: 'unsloth' needs scaling\.use_gpu"):
        parse_config({"training": {"backend": "unsloth"}})
    with pytest.raises(ConfigError, match=r"packing: 'shared_prefix' needs a custom 4D"):
        parse_config({"training": {"backend": "unsloth", "scaling": {"use_gpu": True}}})
    with pytest.raises(ConfigError, match="deepspeed_stage"):
        parse_config({"training": {"deepspeed_stage": 2}})
    with pytest.raises(ConfigError, match="deepspeed_stage"):
        parse_config({"training": {"deepspeed_stage": 1, "scaling": {"use_gpu": True}}})


def test_out_of_range_hyperparameters_name_the_field():
    with pytest.raises(ConfigError) as err:
        parse_config({"training": {"optimizer": {"lr": 0}, "lora": {"r": 0}, "batch_size": -1}})
    text = str(err.value)
    for field in ("training.optimizer.lr", "training.lora.r", "training.batch_size"):
        assert field in text
    with pytest.raises(ConfigError, match="warmup_steps: 50 must be < max_steps"):
        parse_config({"training": {"max_steps": 20, "optimizer": {"warmup_steps": 50}}})


def test_a_cpu_install_never_imports_gpu_libraries():
    code = (
        "import sys, mkd.training.gpu, mkd.training.loop, mkd.training.job, ray_jobs.train; "
        "bad = [m for m in ('bitsandbytes', 'unsloth', 'deepspeed', 'vllm') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
