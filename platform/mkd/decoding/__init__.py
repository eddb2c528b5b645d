"""Structured decoding: answers constrained to the task's JSON Schema, with jump-forward.

The decoder (torch) is imported on first use: task packs compile their grammars at load time
and must not pay for torch.
"""

from typing import Any

from mkd.decoding.grammar import Grammar, UnsupportedSchema

__all__ = ["ConstrainedDecoder", "DecodeResult", "Grammar", "UnsupportedSchema"]


def __getattr__(name: str) -> Any:
    if name in ("ConstrainedDecoder", "DecodeResult"):
        from mkd.decoding import decoder

        return getattr(decoder, name)
    raise AttributeError(f"module 'mkd.decoding' has no attribute {name!r}")
