"""What this machine's processor can do, read at run time (never assumed from one host).

PyTorch's CPU bf16 matmuls are fast only where the processor has bf16 instructions (AVX-512-BF16
or AMX); elsewhere oneDNN falls back to a kernel many times slower than fp32. So the training
precision and the serving dtype are chosen from these flags on the machine that runs them.
"""

from __future__ import annotations

import functools
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

Precision = Literal["auto", "bf16", "fp32"]
_BF16_FLAGS = ("amx_bf16", "avx512_bf16")


@dataclass(frozen=True)
class CpuInfo:
    """The processor's model name, its bf16-relevant ISA flags and torch's dispatch level."""

    model: str
    cores: int
    bf16_flags: tuple[str, ...]
    torch_capability: str

    @property
    def fast_bf16(self) -> bool:
        return bool(self.bf16_flags)

    @property
    def isa(self) -> str:
        """A short name for reports: e.g. 'AVX512 + amx_bf16, avx512_bf16'."""
        extra = f" + {', '.join(self.bf16_flags)}" if self.bf16_flags else " (no bf16 ISA)"
        return f"{self.torch_capability}{extra}"

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "fast_bf16": self.fast_bf16, "isa": self.isa}


def _cpuinfo_fields(text: str) -> tuple[str, set[str]]:
    model, flags = "unknown", set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and model == "unknown":
            model = value.strip()
        elif key in ("flags", "Features") and not flags:
            flags = set(value.split())
    return model, flags


@functools.cache
def cpu_info(cpuinfo_path: str = "/proc/cpuinfo") -> CpuInfo:
    """This machine's CpuInfo (Linux /proc/cpuinfo; other systems report no bf16 flags)."""
    import torch

    path = Path(cpuinfo_path)
    model, flags = _cpuinfo_fields(path.read_text()) if path.exists() else ("unknown", set())
    return CpuInfo(
        model=model,
        cores=os.cpu_count() or 1,
        bf16_flags=tuple(f for f in _BF16_FLAGS if f in flags),
        torch_capability=torch.backends.cpu.get_cpu_capability(),
    )


def cpu_dtype(precision: Precision, info: CpuInfo | None = None) -> str:
    """The torch dtype name for frozen weights on the CPU: bf16 where the ISA has it (auto)."""
    if precision == "auto":
        return "bfloat16" if (info or cpu_info()).fast_bf16 else "float32"
    return "bfloat16" if precision == "bf16" else "float32"
