"""Lineage facts recorded with every registry version: hashes, the code's commit, the base."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path
from typing import Any


def dir_sha256(path: str | Path) -> str:
    """One sha256 over every file under `path` (relative names and contents, sorted)."""
    root = Path(path)
    h = hashlib.sha256()
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    for f in files:
        if f.name.startswith("."):
            continue  # cache markers are not part of the artifact
        h.update(f.relative_to(root).as_posix().encode() if f != root else f.name.encode())
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def git_commit() -> str | None:
    """The commit of the code that made the artifact (None outside a git checkout)."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            cwd=Path(__file__).parent,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def base_model_info(uri: str) -> dict[str, Any]:
    """URI and sha256 of a base model's weights (the URI itself for hub ids)."""
    from mkd.models import resolve_model_uri

    try:
        return {"uri": uri, "sha256": resolve_model_uri(uri).files_sha256()}
    except FileNotFoundError:
        return {"uri": uri, "sha256": None}
