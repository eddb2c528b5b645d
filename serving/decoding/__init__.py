"""Structured decoding: answers constrained to the task's JSON Schema, with jump-forward."""

from serving.decoding.decoder import ConstrainedDecoder, DecodeResult
from serving.decoding.grammar import Grammar, UnsupportedSchema

__all__ = ["ConstrainedDecoder", "DecodeResult", "Grammar", "UnsupportedSchema"]
