"""The content-addressed label cache: label-cache/<sha256>.json in the artifact store.

The key covers everything a label depends on (task, input, context, teacher id, prompt version),
so a re-run or a resumed run asks the teacher only for what it has never answered, and a new
teacher or prompt version never reuses a stale label.
"""

from __future__ import annotations

import contextlib
import hashlib
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from mkd.records import canonical_json
from mkd.storage import AlreadyExists, Store
from mkd.store_layout import LABEL_CACHE, label_cache_digest, label_cache_key


def cache_key(
    task: str, text: str, context: dict | None, teacher_id: str, prompt_version: str
) -> str:
    """sha256 of the canonical JSON of everything the label depends on."""
    ident = [task, text, context or {}, teacher_id, prompt_version]
    return hashlib.sha256(canonical_json(ident).encode()).hexdigest()


class LabelCache:
    """Reads and writes cached labels; entries are immutable (written put-if-absent)."""

    def __init__(self, store: Store, threads: int = 8) -> None:
        self.store = store
        self.threads = threads
        self._known = {label_cache_digest(k) for k in store.list(LABEL_CACHE)}

    def get_many(self, keys: list[str]) -> dict[str, dict[str, Any]]:
        """Entries for the keys that are cached (fetched in parallel: one GET each on S3)."""
        hits = [k for k in dict.fromkeys(keys) if k in self._known]
        with ThreadPoolExecutor(self.threads) as pool:
            entries = list(pool.map(lambda k: self.store.get_json(label_cache_key(k)), hits))
        return dict(zip(hits, entries, strict=True))

    def put(self, key: str, entry: dict[str, Any]) -> None:
        """Store an entry; a concurrent writer of the same key wrote the same label: fine."""
        with contextlib.suppress(AlreadyExists):
            self.store.put_json(label_cache_key(key), entry, if_absent=True)
        self._known.add(key)

    def put_many(self, entries: dict[str, dict[str, Any]]) -> None:
        with ThreadPoolExecutor(self.threads) as pool:
            list(pool.map(lambda kv: self.put(*kv), entries.items()))
