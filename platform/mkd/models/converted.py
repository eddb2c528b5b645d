"""A GGUF base model converted once to transformers' own format on local disk.

transformers loads a GGUF by rebuilding the tokenizer from GGUF metadata and dequantizing every
tensor in Python, which is slow on a CPU, and the demo loads the base in every stage (training
workers, evaluation roles, export variants, serving). The result of that conversion is saved
here once, as safetensors plus tokenizer files, and later loads read it directly (the timings
are in docs/measurements.md).

Layout: <cache>/converted/<sha256[:16]>-{model,tokenizer}/, named by the GGUF file's own
digest, so a changed file never meets an old conversion. A conversion is written to a temporary directory, gets its
`complete.json` (the digest) last and is renamed into place whole: a killed process leaves
no directory that looks complete. A lock file keeps two processes on one node (two Ray Train
workers) from converting the same file at once.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from mkd.models.uris import ModelRef

_MARKER = "complete.json"


def local_cache_dir() -> Path:
    """MKD's per-machine cache root: $MKD_CACHE_DIR, else ~/.cache/mkd."""
    return Path(os.environ.get("MKD_CACHE_DIR") or Path.home() / ".cache" / "mkd")


def converted_dir(ref: ModelRef, part: str = "model") -> Path:
    """The directory holding `ref`'s GGUF `part` ("model": weights and config, "tokenizer")
    as transformers files, converting it on first use. Only for GGUF refs; a directory or hub
    id is already in transformers' format. The parts convert separately because a tokenizer
    alone (token counting, collation) should not pay for dequantizing the weights."""
    from mkd.models.stored import model_sha256

    if not ref.gguf_file:
        raise ValueError(f"model {ref.uri}: not a GGUF, nothing to convert")
    if part not in _CONVERTERS:
        raise ValueError(f"unknown part {part!r}: one of {sorted(_CONVERTERS)}")
    digest = model_sha256(ref)
    target = local_cache_dir() / "converted" / f"{digest[:16]}-{part}"
    if _is_complete(target, digest):
        (target / _MARKER).touch()  # recently used: kept when older conversions are evicted
        return target
    with _lock(target.with_name(target.name + ".lock")):
        if not _is_complete(target, digest):  # another process may have finished meanwhile
            _convert(ref, target, digest, _CONVERTERS[part])
            _evict_older(target.parent, part, keep=KEEP_CONVERTED)
    return target


# Each exported GGUF variant that is evaluated gets its own conversion (hundreds of MB for a
# 135M model in float32): keep only the most recently used few of each part.
KEEP_CONVERTED = 3


def _evict_older(root: Path, part: str, keep: int) -> None:
    done = [d for d in root.glob(f"*-{part}") if (d / _MARKER).is_file()]
    done.sort(key=lambda d: (d / _MARKER).stat().st_mtime, reverse=True)
    for stale in done[keep:]:
        shutil.rmtree(stale, ignore_errors=True)


def _is_complete(directory: Path, digest: str) -> bool:
    try:
        return json.loads((directory / _MARKER).read_text()).get("sha256") == digest
    except (OSError, ValueError):
        return False


@contextmanager
def _lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _save_model(ref: ModelRef, directory: Path) -> None:
    """Dequantized to float32, as transformers' GGUF loader produces it."""
    import torch
    from transformers import AutoModelForCausalLM

    from mkd.models.loading import drop_gguf_quantizer

    model = AutoModelForCausalLM.from_pretrained(
        ref.path, gguf_file=ref.gguf_file, dtype=torch.float32
    )
    drop_gguf_quantizer(model).save_pretrained(directory, safe_serialization=True)


def _save_tokenizer(ref: ModelRef, directory: Path) -> None:
    from transformers import AutoTokenizer

    AutoTokenizer.from_pretrained(ref.path, gguf_file=ref.gguf_file).save_pretrained(directory)


_CONVERTERS: dict[str, Callable[[ModelRef, Path], None]] = {
    "model": _save_model,
    "tokenizer": _save_tokenizer,
}


def _convert(
    ref: ModelRef, target: Path, digest: str, save: Callable[[ModelRef, Path], None]
) -> None:
    """Write into a private directory, mark it complete, then rename it into place whole."""
    partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    save(ref, partial)
    (partial / _MARKER).write_text(json.dumps({"uri": ref.uri, "sha256": digest}))
    shutil.rmtree(target, ignore_errors=True)  # an incomplete leftover
    partial.rename(target)


def pretrained_path(ref: ModelRef, part: str) -> str:
    """The path to give transformers' from_pretrained for `part` of a model: the converted copy
    of a GGUF, else the model's own directory or hub id."""
    return str(converted_dir(ref, part)) if ref.gguf_file else ref.path
