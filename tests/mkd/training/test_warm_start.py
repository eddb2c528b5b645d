"""Warm start (training.init_adapter): the registered adapter's weights load, mismatches refuse."""

from __future__ import annotations

from pathlib import Path

import pytest
from mkd.config.training import TrainingConfig
from mkd.registry import Registry
from mkd.storage import open_store
from mkd.training.warm_start import (
    WarmStartError,
    load_adapter_weights,
    load_init_adapter,
    resolve_init_adapter,
)


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory) -> Path:
    from mkd.training.tiny import build_tiny_student

    return build_tiny_student(tmp_path_factory.mktemp("warm-base"), hidden=32, layers=1)


def training(base: Path, **lora) -> TrainingConfig:
    return TrainingConfig.model_validate(
        {"base_model": str(base), "lora": {"r": 4, "alpha": 8, **lora}, "precision": "fp32"}
    )


def student(cfg: TrainingConfig):
    import torch
    from mkd.training.modeling import build_student

    return build_student(cfg, torch.device("cpu"))[0]


@pytest.fixture(scope="module")
def registered(tiny_base: Path, tmp_path_factory):
    """A store holding finance-student:1, an adapter with random (non-zero) LoRA weights."""
    import torch

    torch.manual_seed(3)
    model = student(training(tiny_base))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_" in name:
                p.copy_(torch.randn_like(p))
    root = tmp_path_factory.mktemp("warm-store")
    adapter = root / "adapter"
    model.save_pretrained(adapter)
    store = open_store(f"file://{root / 'store'}")
    files = {f"adapter/{p.name}": p for p in adapter.iterdir() if p.is_file()}
    Registry(store).register("finance-student", {"variant": "adapter"}, files)
    return store, model


def lora_state(model) -> dict:
    from peft import get_peft_model_state_dict

    return get_peft_model_state_dict(model)


def test_init_adapter_loads_the_registered_weights(tiny_base, registered) -> None:
    import torch

    store, trained = registered
    cfg = training(tiny_base)
    cfg.init_adapter = "finance-student:1"
    init = resolve_init_adapter(cfg, store)
    assert init["ref"] == "finance-student:1" and init["r"] == 4
    fresh = student(cfg)
    before = {k: v.clone() for k, v in lora_state(fresh).items()}
    load_init_adapter(fresh, init, {"uri": store.uri})
    loaded, expected = lora_state(fresh), lora_state(trained)
    assert loaded.keys() == expected.keys()
    assert all(torch.equal(loaded[k], expected[k]) for k in expected)
    assert not all(torch.equal(before[k], expected[k]) for k in expected)


def test_no_init_adapter_is_a_fresh_start(tiny_base, registered) -> None:
    assert resolve_init_adapter(training(tiny_base), registered[0]) is None


def test_rank_mismatch_names_the_field(tiny_base, registered) -> None:
    cfg = training(tiny_base, r=8, alpha=8)
    cfg.init_adapter = "finance-student@candidate"
    with pytest.raises(WarmStartError, match=r"training\.lora\.r: 8.*rank 4"):
        resolve_init_adapter(cfg, registered[0])


def test_target_module_mismatch_names_the_field(tiny_base, registered) -> None:
    from safetensors.torch import load_file

    store, _ = registered
    cfg = training(tiny_base, target_modules=["q_proj", "v_proj"])
    cfg.init_adapter = "finance-student:1"
    with pytest.raises(WarmStartError, match=r"training\.lora\.target_modules"):
        resolve_init_adapter(cfg, store)
    # the worker-side check, where 'all-linear' meets another module set
    path = Path(store.uri.removeprefix("file://")) / "registry/finance-student/1/adapter"
    weights = load_file(str(path / "adapter_model.safetensors"))
    with pytest.raises(WarmStartError, match=r"training\.lora\.target_modules.*q_proj"):
        load_adapter_weights(student(cfg), weights, "finance-student:1")


def test_unknown_version_names_the_field(tiny_base, registered) -> None:
    cfg = training(tiny_base)
    cfg.init_adapter = "finance-student:7"
    with pytest.raises(WarmStartError, match=r"training\.init_adapter: .*does not exist"):
        resolve_init_adapter(cfg, registered[0])
