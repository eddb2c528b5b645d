"""Train/val/test by family: a curated prompt and all its variations land in one split.

The split of a family is a pure function of (seed, family id), so adding prompts to a later
dataset version never moves an existing family from test into train.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable

from mkd.config.data import SplitConfig
from mkd.records import family_key

SPLITS = ("train", "val", "test")


def split_of(family: str, seed: int, cfg: SplitConfig) -> str:
    """'train', 'val' or 'test' for a family, by a seeded hash mapped onto [0, 1)."""
    digest = hashlib.sha256(f"{seed}:{family}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    if u < cfg.train:
        return "train"
    return "val" if u < cfg.train + cfg.val else "test"


def split_by_family(records: Iterable[dict], seed: int, cfg: SplitConfig) -> dict[str, list[dict]]:
    """Group records into splits by their `family` (records without one are their own family)."""
    out: dict[str, list[dict]] = {s: [] for s in SPLITS}
    for rec in records:
        out[split_of(family_key(rec), seed, cfg)].append(rec)
    return out


def family_overlap(splits: dict[str, list[dict]]) -> dict[tuple[str, str], set[str]]:
    """Families present in two splits at once (empty for a correct split)."""
    families: dict[str, set[str]] = defaultdict(set)
    for name, records in splits.items():
        for rec in records:
            families[name].add(family_key(rec))
    names = list(splits)
    return {
        (a, b): families[a] & families[b]
        for i, a in enumerate(names)
        for b in names[i + 1 :]
        if families[a] & families[b]
    }
