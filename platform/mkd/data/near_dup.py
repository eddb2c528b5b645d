"""Exact and near-duplicate detection: MinHash LSH over character 5-grams, verified exactly.

Candidates come from LSH buckets (16 bands x 4 rows: pairs above ~0.5 Jaccard nearly always
collide), and only candidates get the exact Jaccard check against the threshold, so a few
thousand prompts de-duplicate in well under a second.
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from collections import defaultdict

import numpy as np

_BANDS, _ROWS = 16, 4
_PRIME = np.uint64((1 << 31) - 1)  # a < 2**31 and crc32 < 2**32 keep a*x+b inside uint64
_PUNCT = re.compile(r"[^\w\s]")


def normalise_text(text: str) -> str:
    """Case-folded, NFKC, punctuation dropped, whitespace collapsed: what 'the same' means."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(_PUNCT.sub(" ", text).split())


def shingles(text: str, k: int = 5) -> set[str]:
    text = f" {normalise_text(text)} "
    return {text[i : i + k] for i in range(max(1, len(text) - k + 1))}


class NearDupIndex:
    """Adds texts one by one; refuses exact duplicates and texts too close to a kept one."""

    def __init__(self, threshold: float, seed: int = 0) -> None:
        self.threshold = threshold
        rng = np.random.default_rng(seed)
        n = _BANDS * _ROWS
        self._a = rng.integers(1, int(_PRIME), n, dtype=np.uint64)[:, None]
        self._b = rng.integers(0, int(_PRIME), n, dtype=np.uint64)[:, None]
        self._exact: set[str] = set()
        self._sets: list[set[str]] = []
        self._buckets: dict[tuple, list[int]] = defaultdict(list)
        self.last_was_exact = False

    def _signature(self, grams: set[str]) -> list[int]:
        hashes = np.array([zlib.crc32(g.encode()) for g in grams], dtype=np.uint64)[None, :]
        return ((self._a * hashes + self._b) % _PRIME).min(axis=1).tolist()

    def add(self, text: str, check_near: bool = True) -> int | None:
        """Index `text` and return its position, or None if it duplicates a kept text."""
        key = normalise_text(text)
        self.last_was_exact = key in self._exact
        if self.last_was_exact:
            return None
        grams = shingles(text)
        sig = self._signature(grams)
        bands = [(*sig[i * _ROWS : (i + 1) * _ROWS], i) for i in range(_BANDS)]
        if check_near:
            candidates = {j for band in bands for j in self._buckets.get(band, ())}
            for j in candidates:
                other = self._sets[j]
                if len(grams & other) / len(grams | other) >= self.threshold:
                    return None
        position = len(self._sets)
        self._exact.add(key)
        self._sets.append(grams)
        for band in bands:
            self._buckets[band].append(position)
        return position
