"""The served-model cache: registry files fetched once per node, verified on every load.

Layout: <root>/<store key>/<name>-<version>/<file>, where <root> is private to this user (0700)
and <store key> hashes the store's identity (URI and S3 endpoint), so two stores holding the same
name and version never share files. Before a load every file is checked against the sha256 the
registry manifest records; a missing or different file is fetched again (a file the manifest does
not list is removed), and a fetched file that still does not match is refused.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

from mkd.storage import Store, sha256_file

ENV_ROOT = "MKD_SERVE_CACHE_DIR"


class CacheError(ValueError):
    """The cache cannot be used safely (foreign owner, bad manifest, corrupt download)."""


def cache_root(configured: str | None = None) -> Path:
    """The cache root: `configured`, else $MKD_SERVE_CACHE_DIR, else <tempdir>/mkd-serve-cache-<uid>.

    Created 0700; an existing root must be a directory owned by this user (not a symlink) and is
    tightened to 0700.

    Raises:
        CacheError: the root is a symlink, not a directory, or owned by another user.
    """
    root = Path(
        configured
        or os.environ.get(ENV_ROOT)
        or Path(tempfile.gettempdir()) / f"mkd-serve-cache-{os.getuid()}"
    )
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = root.lstat()
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        raise CacheError(f"student.cache_dir {str(root)!r}: not a directory (or a symlink)")
    if info.st_uid != os.getuid():
        raise CacheError(
            f"student.cache_dir {str(root)!r}: owned by uid {info.st_uid}, not this user "
            f"({os.getuid()}); give a private directory"
        )
    if stat.S_IMODE(info.st_mode) != 0o700:
        root.chmod(0o700)
    return root


def store_key(identity: str) -> str:
    """A short, filesystem-safe key for a store identity (e.g. 's3://b/p|http://host:8333')."""
    return hashlib.sha256(identity.encode("utf-8")).hexdigest()[:16]


def store_identity(store: Store, endpoint_url: str | None = None) -> str:
    """What tells two stores apart: the store's URI and, for S3, the endpoint serving it."""
    return f"{store.uri}|{endpoint_url or ''}"


def version_dir(root: Path, identity: str, name: str, version: int) -> Path:
    """The cache directory of one registry version of one store (created 0700)."""
    path = root / store_key(identity) / f"{name}-{version}"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def expected_hashes(manifest: dict[str, Any], prefix: str) -> dict[str, str]:
    """sha256 per manifest file under `prefix` (a directory such as 'adapter/', or one file).

    Raises:
        CacheError: a listed file has no sha256, or nothing is listed under `prefix`.
    """
    out = {}
    for rel, meta in (manifest.get("files") or {}).items():
        if rel == prefix or rel.startswith(prefix.rstrip("/") + "/"):
            digest = (meta or {}).get("sha256") if isinstance(meta, dict) else None
            if not digest:
                raise CacheError(f"manifest files[{rel!r}]: no sha256 recorded")
            out[rel] = digest
    if not out:
        raise CacheError(f"manifest files: nothing under {prefix!r}")
    return out


def fetch_verified(
    store: Store, key_prefix: str, manifest: dict[str, Any], prefix: str, cache: Path
) -> Path:
    """`cache/prefix`, every file matching the manifest's sha256 (fetched again where not).

    Args:
        store: where the version lives.
        key_prefix: the version's key prefix in the store (ModelVersion.prefix).
        manifest: the version's manifest (its `files` hold the sha256 of each file).
        prefix: the part to serve: a directory ('adapter/', 'master/') or one file ('x.gguf').
        cache: the version's cache directory (version_dir()).

    Raises:
        CacheError: a freshly fetched file does not match its manifest sha256.
    """
    wanted = expected_hashes(manifest, prefix)
    target = cache / prefix
    if target.is_dir():  # files the manifest does not list must not be loaded with the rest
        listed = {cache / rel for rel in wanted}
        for path in target.rglob("*"):
            if (path.is_file() or path.is_symlink()) and path not in listed:
                path.unlink()
    for rel, digest in sorted(wanted.items()):
        _ensure_file(store, key_prefix + rel, cache / rel, digest, rel)
    return target


def _ensure_file(store: Store, key: str, dest: Path, digest: str, rel: str) -> None:
    if dest.is_file() and not dest.is_symlink() and sha256_file(dest) == digest:
        return
    dest.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".fetch-", dir=dest.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        store.get_file(key, tmp)
        got = sha256_file(tmp)
        if got != digest:
            raise CacheError(
                f"{rel}: fetched sha256 {got} but the manifest records {digest} ({key})"
            )
        os.replace(tmp, dest)  # atomic: a concurrent replica never loads a half-written file
    finally:
        tmp.unlink(missing_ok=True)
