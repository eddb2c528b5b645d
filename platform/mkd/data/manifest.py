"""Dataset manifests and immutable dataset versions: files first, manifest.json last.

A version directory without manifest.json is an unfinished build, never a dataset; a version
with one is immutable (every object written put-if-absent).
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from typing import Any

from mkd.records import family_key
from mkd.storage import AlreadyExists, Store, sha256_bytes
from mkd.store_layout import MANIFEST


class VersionExists(AlreadyExists):
    """The dataset version is finished; versions are immutable: pick a new data.version."""


def label_of(task: str, output: Any) -> str:
    """The stratum of an answer: its category, entity types, currency or date periods."""
    if task == "query_classifier" and isinstance(output, dict):
        return str(output.get("category"))
    if task == "currency_identifier" and isinstance(output, dict):
        return f"{output.get('currency')}/{output.get('mention')}"
    if isinstance(output, list):
        keys = sorted(
            {str(i.get("type") or i.get("date_period")) for i in output if isinstance(i, dict)}
        )
        return "+".join(keys) or "[]"
    return "other"


def label_counts(records: list[dict]) -> dict[str, dict[str, int]]:
    import json

    counts: dict[str, Counter] = defaultdict(Counter)
    for rec in records:
        counts[rec["task"]][label_of(rec["task"], json.loads(rec["output"]))] += 1
    return {task: dict(sorted(c.items())) for task, c in sorted(counts.items())}


def build_manifest(
    name: str,
    version: str,
    files: dict[str, bytes],
    splits: dict[str, list[dict]],
    extra: dict[str, Any],
) -> dict[str, Any]:
    """The manifest: counts per split/task/label, sha256 and size of every file, lineage."""
    everything = [r for recs in splits.values() for r in recs]
    return {
        "name": name,
        "version": version,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "files": {
            fname: {"sha256": sha256_bytes(data), "bytes": len(data), "records": data.count(b"\n")}
            for fname, data in sorted(files.items())
        },
        "counts": {
            "records": len(everything),
            "prompts": len({r.get("prompt_id") or r.get("id") or r["input"] for r in everything}),
            "families": len({family_key(r) for r in everything}),
            "splits": {s: len(recs) for s, recs in splits.items()},
            "tasks": dict(sorted(Counter(r["task"] for r in everything).items())),
            "labels": label_counts(everything),
            "sources": dict(
                sorted(
                    Counter(
                        (r.get("source") or "unknown").split("/")[0] for r in everything
                    ).items()
                )
            ),
        },
        **extra,
    }


def write_version(store: Store, prefix: str, files: dict[str, bytes], manifest: dict) -> None:
    """Write the files put-if-absent, then the manifest; leftovers of a killed build are cleared.

    Raises:
        VersionExists: the version already has a manifest.
    """
    if store.exists(prefix + MANIFEST):
        raise VersionExists(f"{store.uri_for(prefix)} is finished and immutable")
    for key in store.list(prefix):  # an unfinished build of this version: start it over
        store.delete(key)
    for fname, data in sorted(files.items()):
        store.put_bytes(prefix + fname, data, if_absent=True)
    store.put_json(prefix + MANIFEST, manifest, if_absent=True)
