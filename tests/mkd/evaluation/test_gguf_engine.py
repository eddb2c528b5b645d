"""A GGUF is evaluated as it is served: through llama.cpp when llama_cpp is installed, through
transformers (dequantised) otherwise, and the report says which engine scored it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mkd.config.export import ExportConfig
from mkd.evaluation.job import run_evaluation
from mkd.inference import llama_cpp_installed
from mkd.storage import open_store


@pytest.fixture(scope="module")
def tiny_gguf(tiny_base: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model as export writes its q8_0 variant (llama.cpp's converter)."""
    from mkd.export.gguf import convert_hf_to_gguf

    out = tmp_path_factory.mktemp("tiny-gguf") / "model.gguf"
    return convert_hf_to_gguf(tiny_base, out, "q8_0", ExportConfig().converter_dir)


def _evaluate(eval_config, gguf: Path) -> dict:
    ev = eval_config.evaluation.model_copy(
        update={"candidate": str(gguf), "compare_base": False, "latency_probe_items": 0}
    )
    outcome = run_evaluation(eval_config.model_copy(update={"evaluation": ev}))
    return outcome.report


def _stored(eval_config, report: dict, name: str) -> str:
    return open_store(eval_config.store).get_bytes(f"evals/{report['id']}/{name}").decode()


@pytest.mark.slow
def test_without_llama_cpp_a_gguf_is_dequantised_into_transformers_and_said_so(
    eval_config, tiny_gguf
):
    if llama_cpp_installed():
        pytest.skip("llama_cpp is installed here: the llama.cpp test covers this machine")
    report = _evaluate(eval_config, tiny_gguf)
    student = report["models"]["student"]
    assert student["engine"] == "transformers"
    assert "llama_cpp is not installed" in student["engine_note"]
    assert report["models"]["teacher"]["engine"] == "reference"
    assert all(m["count"] == 2 for m in student["tasks"].values())  # it did answer
    md = _stored(eval_config, report, "report.md")
    assert "Scored by the `transformers` engine (GGUF dequantised into transformers" in md
    assert (
        json.loads(_stored(eval_config, report, "report.json"))["models"]["student"]["engine"]
        == "transformers"
    )
    first = _stored(eval_config, report, "predictions/student.jsonl").splitlines()[0]
    assert json.loads(first)["engine"] == "transformers"


@pytest.mark.slow
def test_with_llama_cpp_a_gguf_is_scored_by_the_engine_that_serves_it(eval_config, tiny_gguf):
    pytest.importorskip("llama_cpp", reason="llama-cpp-python (the edge extra) is not installed")
    report = _evaluate(eval_config, tiny_gguf)
    student = report["models"]["student"]
    assert student["engine"] == "llamacpp" and "engine_note" not in student
    assert all(m["count"] == 2 for m in student["tasks"].values())
    assert "Scored by the `llamacpp` engine." in _stored(eval_config, report, "report.md")
