"""MKD: multi-task knowledge distillation of LLMs, from teacher labels to a canaried student."""

__version__ = "0.1.0"
