"""A base model resolved once into the artifact store: its tokenizer and weights hash recorded.

base-models/<sha256[:16]>/{tokenizer/, manifest.json}: a run's manifest points here, so a later
stage (evaluation, export, serving) knows exactly which weights and tokenizer the adapter needs.
Hashing a GGUF or a model directory is done once per (uri, file size, mtime) and cached.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from mkd.models.converted import local_cache_dir, pretrained_path
from mkd.models.uris import ModelRef, resolve_model_uri
from mkd.store_layout import MANIFEST, base_model_key


def _fingerprint(ref: ModelRef) -> str:
    root = Path(ref.path)
    files = (
        [root / ref.gguf_file]
        if ref.gguf_file
        else sorted(root.rglob("*"))
        if root.is_dir()
        else []
    )
    stats = [(str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files if f.is_file()]
    return json.dumps([ref.uri, stats])


def model_sha256(ref: ModelRef) -> str:
    """sha256 of the model files, memoised on disk by path, size and mtime."""
    key = _fingerprint(ref)
    path = local_cache_dir() / "model-hashes.json"
    try:
        cache = json.loads(path.read_text())
    except (OSError, ValueError):
        cache = {}
    if key not in cache:
        cache[key] = ref.files_sha256()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.partial")
        tmp.write_text(json.dumps(cache))
        tmp.replace(path)
    return cache[key]


def load_tokenizer(uri: str) -> Any:
    """Only the tokenizer of a base-model URI (no weights loaded)."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(pretrained_path(resolve_model_uri(uri), "tokenizer"))


def record_base_model(store: Any, uri: str, tokenizer: Any | None = None) -> dict[str, Any]:
    """Put the base model's tokenizer and manifest in the store once; return the manifest."""
    ref = resolve_model_uri(uri)
    digest = model_sha256(ref)
    manifest_key, tokenizer_key = (
        base_model_key(digest, MANIFEST),
        base_model_key(digest, "tokenizer"),
    )
    if store.exists(manifest_key):
        return store.get_json(manifest_key)
    tokenizer = tokenizer if tokenizer is not None else load_tokenizer(uri)
    with tempfile.TemporaryDirectory(prefix="mkd-tok-") as tmp:
        tokenizer.save_pretrained(tmp)
        store.put_dir(tokenizer_key, tmp)
    manifest = {"uri": uri, "sha256": digest, "gguf_file": ref.gguf_file,
                "tokenizer": store.uri_for(tokenizer_key)}  # fmt: skip
    store.put_json(manifest_key, manifest)
    return manifest
