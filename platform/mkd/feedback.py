"""The feedback log's reader: teacher answers the serving Router obtained.

The Router writes them (serving/capture.py); dataset builds read them (mkd.data.next_version).
Layout (keys from mkd.store_layout): feedback/<pack>/<YYYY-MM-DD>/<HHMMSS>-<writer id>-<seq>.jsonl, one entry a line.
"""

from __future__ import annotations

import datetime as dt
import json

from mkd.storage import Store
from mkd.store_layout import feedback_day, feedback_prefix

SOURCES = ("shadow", "mirror", "fallback")


def read_feedback(store: Store, pack: str, since: dt.date | None = None) -> list[dict]:
    """Every captured entry of a pack (from `since` on), oldest object first."""
    rows: list[dict] = []
    for key in sorted(store.list(feedback_prefix(pack))):
        day = feedback_day(key)
        if day is None or (since is not None and day < since):
            continue
        rows += [json.loads(x) for x in store.get_bytes(key).splitlines() if x.strip()]
    return rows
