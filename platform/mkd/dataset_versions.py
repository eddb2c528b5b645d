"""Finished dataset versions in the store, and the one rule for which of them is "latest".

Training and evaluation both resolve `latest` here, so they can never pick different versions.
A version is finished once its manifest.json exists (the build writes it last). The newest is
the one built last (manifest `created_at`); versions built within the same second are ordered
by their names' numbers, so `v10` comes after `v9` (text order would put it first).
"""

from __future__ import annotations

import re
from typing import Any


def finished_versions(store: Any, name: str) -> list[str]:
    """Names of the versions of dataset `name` that have a manifest, oldest first."""
    found = []
    for key in store.list(f"datasets/{name}/"):
        parts = key.split("/")
        if len(parts) == 4 and parts[3] == "manifest.json":
            created = str(store.get_json(key).get("created_at", ""))
            found.append((created, _natural_key(parts[2]), parts[2]))
    return [version for *_, version in sorted(found)]


def latest_dataset_version(store: Any, name: str) -> str:
    """The newest finished version of dataset `name`; FileNotFoundError when there is none."""
    versions = finished_versions(store, name)
    if not versions:
        raise FileNotFoundError(
            f"no finished dataset {name!r} under {store.uri_for(f'datasets/{name}/')}"
        )
    return versions[-1]


def _natural_key(version: str) -> tuple[tuple[int, int | str], ...]:
    """'v10' -> ((1, 'v'), (0, 10)): digit runs compare as numbers."""
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part) for part in re.findall(r"\d+|\D+", version)
    )
