"""Warm start: training begins from a registered adapter's LoRA weights (training.init_adapter).

The driver resolves the reference in the registry and checks what it can without the model
(the version is an adapter, rank and alpha as configured); each worker downloads the adapter and
loads it into its freshly built PEFT model, refusing when the module set or a shape differs (the
target modules or the top layers). Every refusal names the config field to change. A resumed
run's checkpoint is loaded after this, so a resume continues where it stopped.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from mkd.config.training import TrainingConfig

ADAPTER_WEIGHTS = "adapter_model.safetensors"
ADAPTER_CONFIG = "adapter_config.json"


class WarmStartError(ValueError):
    """training.init_adapter cannot be loaded into the configured student; names the field."""


def resolve_init_adapter(cfg: TrainingConfig, store: Any) -> dict[str, Any] | None:
    """{ref, version, prefix, adapter_sha256, r, alpha} of training.init_adapter, checked
    against training.lora; None without one.

    Raises:
        WarmStartError: the version does not exist, is not an adapter, or its rank/alpha differ.
    """
    if not cfg.init_adapter:
        return None
    from mkd.registry import Registry, RegistryError

    try:
        mv = Registry(store).resolve(cfg.init_adapter)
    except RegistryError as exc:
        raise WarmStartError(f"training.init_adapter: {exc}") from None
    variant = mv.manifest.get("variant", "adapter")
    prefix = f"{mv.prefix}adapter/"
    if variant != "adapter" or not store.exists(prefix + ADAPTER_CONFIG):
        raise WarmStartError(
            f"training.init_adapter: {mv.ref} is a {variant!r} variant, not a LoRA adapter "
            "(name the adapter version its export came from)"
        )
    saved = json.loads(store.get_bytes(prefix + ADAPTER_CONFIG))
    check_lora_settings(saved, cfg, mv.ref)
    return {
        "ref": mv.ref,
        "requested": cfg.init_adapter,
        "stage": mv.stage,
        "prefix": prefix,
        "adapter_sha256": mv.manifest.get("adapter_sha256"),
        "training_run": mv.manifest.get("training_run"),
        "r": saved.get("r"),
        "alpha": saved.get("lora_alpha"),
    }


def check_lora_settings(saved: dict[str, Any], cfg: TrainingConfig, ref: str) -> None:
    """Rank, alpha and an explicit target-module list of a saved adapter_config.json against
    training.lora ('all-linear' is checked against the model's modules when the weights load)."""
    lora = cfg.lora
    if saved.get("r") != lora.r:
        raise WarmStartError(
            f"training.lora.r: {lora.r}, but training.init_adapter {ref} has rank "
            f"{saved.get('r')}; set training.lora.r: {saved.get('r')} or start a fresh adapter "
            "(training.init_adapter: null)"
        )
    if saved.get("lora_alpha") not in (None, lora.alpha):
        raise WarmStartError(
            f"training.lora.alpha: {lora.alpha}, but training.init_adapter {ref} has alpha "
            f"{saved.get('lora_alpha')}; set training.lora.alpha: {saved.get('lora_alpha')}"
        )
    targets = saved.get("target_modules")
    if isinstance(lora.target_modules, list) and isinstance(targets, list | str):
        have = {targets} if isinstance(targets, str) else set(targets)
        if have != set(lora.target_modules):
            raise WarmStartError(
                f"training.lora.target_modules: {sorted(lora.target_modules)}, but "
                f"training.init_adapter {ref} adapts {sorted(have)}"
            )


def _module_kinds(keys: set[str]) -> list[str]:
    """q_proj, v_proj ... of LoRA weight keys (…layers.0.self_attn.q_proj.lora_A.weight)."""
    return sorted({k.split(".lora_")[0].rsplit(".", 1)[-1] for k in keys})


def load_adapter_weights(model: Any, weights: dict[str, Any], ref: str) -> None:
    """Copy a saved adapter's LoRA weights into `model` (a PEFT model built from training.lora).

    Raises:
        WarmStartError: the saved modules or shapes differ from the model's, naming
            training.lora.target_modules / top_layers or training.lora.r.
    """
    from peft import get_peft_model_state_dict, set_peft_model_state_dict

    expected = {k: tuple(v.shape) for k, v in get_peft_model_state_dict(model).items()}
    saved = {k: tuple(v.shape) for k, v in weights.items()}
    missing, extra = set(expected) - set(saved), set(saved) - set(expected)
    if missing or extra:
        raise WarmStartError(
            f"training.lora.target_modules / training.lora.top_layers: the student gets LoRA on "
            f"{len(expected)} weights ({', '.join(_module_kinds(set(expected)))}), training."
            f"init_adapter {ref} holds {len(saved)} ({', '.join(_module_kinds(set(saved)))}); "
            f"{len(missing)} missing, {len(extra)} unexpected, e.g. "
            f"{sorted(missing or extra)[0]}"
        )
    wrong = sorted(k for k in expected if expected[k] != saved[k])
    if wrong:
        raise WarmStartError(
            f"training.lora.r: {wrong[0]} is {saved[wrong[0]]} in training.init_adapter {ref}, "
            f"the student's is {expected[wrong[0]]}"
        )
    set_peft_model_state_dict(model, weights)


def load_init_adapter(model: Any, init: dict[str, Any], store_section: dict[str, Any]) -> None:
    """Download the adapter of `init` (resolve_init_adapter's record) and load it into `model`."""
    from safetensors.torch import load_file

    from mkd.config.store import StoreConfig
    from mkd.storage import open_store

    store = open_store(StoreConfig.model_validate(store_section))
    with tempfile.TemporaryDirectory(prefix="mkd-init-adapter-") as tmp:
        path = store.get_file(init["prefix"] + ADAPTER_WEIGHTS, Path(tmp) / ADAPTER_WEIGHTS)
        weights = load_file(str(path))
    load_adapter_weights(model, weights, init["ref"])
