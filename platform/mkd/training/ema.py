"""An exponential moving average (EMA) of the trainable (LoRA) weights.

A small model trained for one or two epochs on a steep part of its curve ends where its last
few hundred micro-batches pushed it; the average of its recent weights is a smoother point
that usually generalises at least as well (Polyak averaging). Only the adapter is averaged:
a few MB, updated once an optimizer step.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any


def _trainable(model: Any) -> list[tuple[str, Any]]:
    return [(n, p) for n, p in model.named_parameters() if p.requires_grad]


class AdapterEMA:
    """The shadow weights: `decay` at most, less in the first steps so that the average does
    not stay near the initial (zero-effect) adapter: min(decay, (1 + step) / (10 + step))."""

    def __init__(self, model: Any, decay: float) -> None:
        self.decay = decay
        self.restart(model)

    def restart(self, model: Any) -> None:
        """Start the average at the model's current weights."""
        self.shadow = {n: p.detach().clone() for n, p in _trainable(model)}

    def update(self, model: Any, step: int) -> None:
        """Fold the weights after optimizer step `step` (counted from 1) into the average."""
        weight = min(self.decay, (1 + step) / (10 + step))
        for name, param in _trainable(model):
            self.shadow[name].mul_(weight).add_(param.detach(), alpha=1 - weight)

    def copy_to(self, model: Any) -> None:
        """Put the averaged weights into the model (for good: the final adapter)."""
        for name, param in _trainable(model):
            param.data.copy_(self.shadow[name])

    @contextlib.contextmanager
    def applied(self, model: Any) -> Iterator[None]:
        """The averaged weights in the model inside the block, the trained ones after it."""
        trained = {n: p.detach().clone() for n, p in _trainable(model)}
        self.copy_to(model)
        try:
            yield
        finally:
            for name, param in _trainable(model):
                param.data.copy_(trained[name])

    def state_dict(self) -> dict[str, Any]:
        return {"decay": self.decay, "shadow": self.shadow}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        missing = set(self.shadow) - set(state["shadow"])
        if missing:
            raise ValueError(f"EMA state: no shadow for {sorted(missing)[:3]}")
        for name, value in state["shadow"].items():
            self.shadow[name].copy_(value)
