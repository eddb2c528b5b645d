"""Base models by URI and loading (student + adapters) for training, evaluation and serving."""

from mkd.models.loading import generate_json, load_student
from mkd.models.uris import ModelRef, resolve_model_uri

__all__ = ["ModelRef", "generate_json", "load_student", "resolve_model_uri"]
