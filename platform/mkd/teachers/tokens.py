"""Token counts for the teacher server's `usage` field: a real tokenizer, or a documented estimate.

Loading the SmolLM2 tokenizer from its GGUF is slow (the vocabulary is rebuilt from GGUF
metadata; docs/measurements.md), so the converted fast tokenizer is saved once under
~/.cache/mkd/tokenizers/ (or $MKD_CACHE_DIR) and later loads are fast.
"""

from __future__ import annotations

import hashlib
import math
import os
import shutil
from pathlib import Path
from typing import Any

ESTIMATE = "estimate"
_BYTES_PER_TOKEN = 4  # English BPE vocabularies average ~4 bytes of UTF-8 per token
_PER_MESSAGE = 4  # role markers and separators a chat template adds around each message


def _cache_dir() -> Path:
    root = os.environ.get("MKD_CACHE_DIR") or Path.home() / ".cache" / "mkd"
    return Path(root) / "tokenizers"


def load_tokenizer_cached(uri: str) -> Any:
    """A transformers tokenizer for a model URI, converted once and cached on disk."""
    from transformers import AutoTokenizer

    from mkd.models.uris import resolve_model_uri

    cached = _cache_dir() / hashlib.sha256(uri.encode()).hexdigest()[:16]
    if (cached / "tokenizer_config.json").is_file():
        return AutoTokenizer.from_pretrained(cached)
    ref = resolve_model_uri(uri)
    kwargs = {"gguf_file": ref.gguf_file} if ref.gguf_file else {}
    tokenizer = AutoTokenizer.from_pretrained(ref.path, **kwargs)
    partial = cached.with_name(cached.name + f".{os.getpid()}.partial")
    tokenizer.save_pretrained(partial)
    shutil.rmtree(cached, ignore_errors=True)
    partial.rename(cached)  # whole directory or nothing: a killed save is never half-read
    return tokenizer


class TokenCounter:
    """Counts prompt and completion tokens.

    Args:
        spec: "estimate" (UTF-8 bytes / 4, plus 4 per chat message: the documented estimate) or
            a model URI whose tokenizer and chat template give the real counts.
    """

    def __init__(self, spec: str = ESTIMATE) -> None:
        self.spec = spec
        self.tokenizer = None if spec == ESTIMATE else load_tokenizer_cached(spec)

    def prompt_tokens(self, messages: list[dict[str, str]]) -> int:
        if self.tokenizer is None:
            return sum(self._estimate(m.get("content") or "") + _PER_MESSAGE for m in messages)
        ids = self.tokenizer.apply_chat_template(
            messages, tokenize=True, add_generation_prompt=True, return_dict=True
        )["input_ids"]
        return len(ids)

    def completion_tokens(self, text: str) -> int:
        if self.tokenizer is None:
            return self._estimate(text) + 1  # + the end-of-turn token
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"]) + 1

    @staticmethod
    def _estimate(text: str) -> int:
        return math.ceil(len(text.encode("utf-8", errors="replace")) / _BYTES_PER_TOKEN)
