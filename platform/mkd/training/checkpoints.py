"""Training checkpoints: the adapter, optimizer and scheduler state, the step and the history.

A checkpoint directory is complete once `state.json` exists (written last): Ray Train uploads
the directory to the store (S3 or local) after the worker has written it.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ADAPTER_DIR = "adapter"
STATE_FILE = "state.json"
OPTIM_FILE = "optimizer.pt"


@dataclass
class TrainState:
    """What a resumed run needs besides weights: where it was and what it has logged."""

    step: int = 0
    best_val_loss: float | None = None
    best_val_agreement: float | None = None
    best_step: int | None = None
    evals_without_gain: int = 0
    train_seconds: float = 0.0
    wall_seconds: float = 0.0  # the loop's time, validation and checkpoints included
    epochs: float = 0.0  # passes over the training queries (examples when unpacked)
    precision: dict[str, Any] = field(default_factory=dict)  # base dtype and the worker's ISA
    tokens: int = 0
    resumed_from: list[int] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)


def save_checkpoint(
    directory: str | Path, model: Any, optimizer: Any, scheduler: Any, state: TrainState
) -> Path:
    """Write adapter (safetensors), optimizer/scheduler/RNG state, then state.json last."""
    import torch

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(directory / ADAPTER_DIR, safe_serialization=True)
    torch.save(
        {
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "python_rng": random.getstate(),
        },
        directory / OPTIM_FILE,
    )
    (directory / STATE_FILE).write_text(json.dumps(asdict(state)), encoding="utf-8")
    return directory


def load_checkpoint(
    directory: str | Path, model: Any, optimizer: Any, scheduler: Any
) -> TrainState:
    """Restore the adapter weights, optimizer, scheduler and RNGs; return the saved state."""
    import torch
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    directory = Path(directory)
    if not (directory / STATE_FILE).is_file():
        raise FileNotFoundError(f"checkpoint {directory}: no {STATE_FILE} (incomplete checkpoint)")
    weights = load_file(str(directory / ADAPTER_DIR / "adapter_model.safetensors"))
    set_peft_model_state_dict(model, weights)
    extra = torch.load(directory / OPTIM_FILE, weights_only=False)
    optimizer.load_state_dict(extra["optimizer"])
    scheduler.load_state_dict(extra["scheduler"])
    torch.set_rng_state(extra["torch_rng"])
    random.setstate(extra["python_rng"])
    return TrainState(**json.loads((directory / STATE_FILE).read_text(encoding="utf-8")))
