"""Structured decoding: answers constrained to the task's JSON Schema, with jump-forward."""

from mkd.decoding.decoder import ConstrainedDecoder, DecodeResult
from mkd.decoding.grammar import Grammar, UnsupportedSchema

__all__ = ["ConstrainedDecoder", "DecodeResult", "Grammar", "UnsupportedSchema"]
