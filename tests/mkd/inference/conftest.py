"""The evaluation tests' tiny model (random Llama + SmolLM2's tokenizer), shared here."""

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "mkd_eval_test_fixtures", Path(__file__).parents[1] / "evaluation" / "conftest.py"
)
_fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_fixtures)

tiny_base = _fixtures.tiny_base
tiny_adapter = _fixtures.tiny_adapter
