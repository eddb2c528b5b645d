"""The master: the adapter merged into the base, saved full-precision as safetensors.

The article's lesson: always keep a clean high-precision checkpoint; every other format is
derived from it, never from another quantized file.
"""

from __future__ import annotations

from pathlib import Path

from mkd.models import load_student
from mkd.models.loading import drop_gguf_quantizer


def merge_master(
    base_uri: str, adapter_path: str | Path, out_dir: str | Path, dtype: str = "float32"
) -> Path:
    """Merge `adapter_path` into `base_uri` and save model + tokenizer to `out_dir`.

    A base loaded from GGUF is dequantized to `dtype`; its GGUF quantizer is dropped first, or
    save_pretrained refuses the model ("quantized with gguf").
    """
    out_dir = Path(out_dir)
    model, tokenizer = load_student(base_uri, str(adapter_path), dtype=dtype, merge=True)
    drop_gguf_quantizer(model)
    tmp = out_dir.with_name(f".{out_dir.name}.partial")
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.padding_side = "left"
    tokenizer.save_pretrained(tmp)
    tmp.replace(out_dir)
    return out_dir
