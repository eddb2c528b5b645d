"""The feedback log's store layout and reader: teacher answers the serving Router obtained.

The Router writes them (serving/capture.py); dataset builds read them (mkd.data.next_version).
Layout: feedback/<pack>/<YYYY-MM-DD>/<HHMMSS>-<writer id>-<seq>.jsonl, one entry a line.
"""

from __future__ import annotations

import datetime as dt
import json

from mkd.storage import Store

PREFIX = "feedback/"
SOURCES = ("shadow", "mirror", "fallback")


def feedback_key(pack: str, when: dt.datetime, writer: str, seq: int) -> str:
    return f"{PREFIX}{pack}/{when:%Y-%m-%d}/{when:%H%M%S}-{writer}-{seq:06d}.jsonl"


def day_of(key: str) -> dt.date | None:
    """The day folder of a feedback key, or None for a key outside the layout."""
    parts = key.removeprefix(PREFIX).split("/")
    try:
        return dt.date.fromisoformat(parts[1]) if len(parts) == 3 else None
    except ValueError:
        return None


def read_feedback(store: Store, pack: str, since: dt.date | None = None) -> list[dict]:
    """Every captured entry of a pack (from `since` on), oldest object first."""
    rows: list[dict] = []
    for key in sorted(store.list(f"{PREFIX}{pack}/")):
        day = day_of(key)
        if day is None or (since is not None and day < since):
            continue
        rows += [json.loads(x) for x in store.get_bytes(key).splitlines() if x.strip()]
    return rows
