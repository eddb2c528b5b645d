"""bench_decode_rows on a tiny random Llama: one decode forward is timed at each row count."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_decode_rows.py"


def test_a_decode_forward_is_timed_for_int8_and_bf16(tmp_path) -> None:
    spec = importlib.util.spec_from_file_location("bench_decode_rows", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_decode_rows"] = module
    try:
        spec.loader.exec_module(module)
        from mkd.models import load_student
        from mkd.models.lean_llama import LeanLlama
        from mkd.training.tiny import build_tiny_student

        model, _ = load_student(str(build_tiny_student(tmp_path / "tiny")), dtype="float32")
        for int8 in (True, False):
            lean = LeanLlama(model, "bfloat16", int8_decode=int8)
            assert module.decode_ms(lean, rows=2, prompt=8, repeats=2) > 0
    finally:
        sys.modules.pop("bench_decode_rows", None)
