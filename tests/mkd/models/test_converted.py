"""A GGUF base is converted to transformers' format once per machine and read from there after:
the same weights and tokenizer as loading the GGUF itself, keyed by the file's digest, and a
half-written conversion is never taken for a finished one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from mkd.config.export import ExportConfig
from mkd.models import load_student
from mkd.models.converted import converted_dir, local_cache_dir
from mkd.models.uris import resolve_model_uri

pytestmark = pytest.mark.slow  # converts a model with a 49k-token vocabulary several times


@pytest.fixture(scope="module")
def tiny_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny model written as a GGUF by the converter export uses."""
    from mkd.export.gguf import convert_hf_to_gguf
    from mkd.training.tiny import build_tiny_student

    base = build_tiny_student(tmp_path_factory.mktemp("tiny-base"), hidden=32, layers=1)
    out = tmp_path_factory.mktemp("tiny-gguf") / "model.gguf"
    return convert_hf_to_gguf(base, out, "q8_0", ExportConfig().converter_dir)


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache for the module: converting the tokenizer costs seconds, so tests share it."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(autouse=True)
def cache(shared_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MKD_CACHE_DIR", str(shared_cache))
    return shared_cache


def _direct(gguf: Path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, dtype=torch.float32
    )
    return model, tok


def test_a_converted_gguf_loads_the_same_weights_and_tokenizer_as_the_gguf(tiny_gguf, cache):
    model, tok = load_student(str(tiny_gguf))
    direct, direct_tok = _direct(tiny_gguf)
    ours, theirs = model.state_dict(), direct.state_dict()
    assert sorted(ours) == sorted(theirs)
    assert all(torch.equal(ours[k], theirs[k]) for k in ours)
    text = "Compare Apple's FY2024 revenue with Samsung's"
    assert tok(text)["input_ids"] == direct_tok(text)["input_ids"]
    digest = converted_dir(resolve_model_uri(str(tiny_gguf))).name.split("-")[0]
    written = sorted(p.name for p in (cache / "converted").iterdir() if p.is_dir())
    assert written == [f"{digest}-model", f"{digest}-tokenizer"]  # no partial left behind


def test_the_second_load_reads_the_conversion_without_converting_again(tiny_gguf, monkeypatch):
    load_student(str(tiny_gguf))

    def refuse(*args, **kwargs):
        raise AssertionError("converted twice")

    monkeypatch.setattr("mkd.models.converted._convert", refuse)
    model, _ = load_student(str(tiny_gguf), dtype="bfloat16")
    assert next(model.parameters()).dtype == torch.bfloat16


def test_a_directory_without_its_completion_marker_is_converted_again(tiny_gguf):
    ref = resolve_model_uri(str(tiny_gguf))
    target = converted_dir(ref)
    (target / "complete.json").unlink()  # as a process killed before the marker leaves it
    (target / "model.safetensors").write_bytes(b"truncated")
    assert converted_dir(ref) == target
    marker = json.loads((target / "complete.json").read_text())
    load_student(str(tiny_gguf))  # the truncated weights were replaced
    assert marker["uri"] == str(tiny_gguf)


def test_the_conversion_is_named_by_the_gguf_digest_so_a_changed_file_never_meets_it(
    tiny_gguf, tmp_path
):
    from mkd.models.stored import model_sha256

    ref = resolve_model_uri(str(tiny_gguf))
    assert converted_dir(ref).name == f"{model_sha256(ref)[:16]}-model"
    changed = tmp_path / "model.gguf"
    changed.write_bytes(tiny_gguf.read_bytes()[:-1] + b"\x01")
    assert model_sha256(resolve_model_uri(str(changed)))[:16] != model_sha256(ref)[:16]


def test_the_cache_root_follows_mkd_cache_dir(cache):
    assert local_cache_dir() == cache


def test_a_tokenizer_alone_does_not_convert_the_weights(tiny_gguf, tmp_path, monkeypatch):
    from mkd.models.stored import load_tokenizer

    monkeypatch.setenv("MKD_CACHE_DIR", str(tmp_path))
    load_tokenizer(str(tiny_gguf))
    written = [p.name.split("-")[1] for p in (tmp_path / "converted").iterdir() if p.is_dir()]
    assert written == ["tokenizer"]


def test_a_model_directory_is_not_converted(tmp_path):
    with pytest.raises(ValueError, match="not a GGUF"):
        converted_dir(resolve_model_uri(str(tmp_path)))


def test_only_the_most_recently_used_conversions_are_kept(tiny_gguf, tmp_path, monkeypatch):
    import time

    from mkd.models import converted

    monkeypatch.setenv("MKD_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(converted, "_save_tokenizer", lambda ref, d: d.mkdir(parents=True))
    monkeypatch.setitem(converted._CONVERTERS, "tokenizer", converted._save_tokenizer)
    copies = []
    for i in range(converted.KEEP_CONVERTED + 2):
        copy = tmp_path / f"m{i}" / "model.gguf"
        copy.parent.mkdir()
        copy.write_bytes(tiny_gguf.read_bytes() + bytes([i]))  # another digest each
        copies.append(converted.converted_dir(resolve_model_uri(str(copy)), "tokenizer"))
        time.sleep(0.01)
        converted.converted_dir(resolve_model_uri(str(tiny_gguf)), "tokenizer")  # in use
    kept = sorted(p for p in (tmp_path / "cache" / "converted").glob("*-tokenizer"))
    assert len(kept) == converted.KEEP_CONVERTED
    assert converted.converted_dir(resolve_model_uri(str(tiny_gguf)), "tokenizer") in kept
    assert copies[-1] in kept and copies[0] not in kept
