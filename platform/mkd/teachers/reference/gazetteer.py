"""Loading the finance gazetteers and finding their names in a query (longest match wins)."""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

# Ties between equally long matches go to the more specific type.
_TYPE_RANK = {"COMPANY": 0, "METRIC": 1, "GEOGRAPHY": 2, "SECTOR": 3}


@dataclass(frozen=True)
class Span:
    """One gazetteer hit: where it is, the text as written, its type and its gazetteer entry."""

    start: int
    end: int
    text: str
    type: str
    entry: dict[str, Any] = field(hash=False, compare=False)


def _surface_pattern(surface: str) -> str:
    """A regex for one name: flexible whitespace, either apostrophe, word boundaries."""
    parts = [re.escape(word).replace("'", "['’]") for word in surface.split()]
    return r"(?<![\w])" + r"\s+".join(parts) + r"(?![\w])"


class Gazetteer:
    """The pack's gazetteers (companies, metrics, sectors, geographies, currencies) as matchers."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.case_sensitive = set(data.get("case_sensitive", []))
        self.country_currency: dict[str, str] = data.get("country_currency", {})
        self.currencies = {c["code"]: c for c in data.get("currencies", [])}
        names: list[tuple[str, str, dict[str, Any]]] = []
        for entry in data.get("companies", []):
            names += [(n, "COMPANY", entry) for n in [entry["name"], *entry.get("aliases", [])]]
        for entry in data.get("metrics", []):
            names += [(n, "METRIC", entry) for n in [entry["name"], *entry.get("synonyms", [])]]
        for entry in data.get("sectors", []):
            names += [(n, "SECTOR", entry) for n in [entry["name"], *entry.get("synonyms", [])]]
        for entry in data.get("geographies", []):
            names += [(n, "GEOGRAPHY", entry) for n in [entry["name"], *entry.get("aliases", [])]]
        self._entity_matchers = self._compile(names)
        terms = [(t["term"], t["kind"], t) for t in data.get("implicit_currency_terms", [])]
        self._term_matchers = self._compile(terms)

    def _compile(self, names: list[tuple[str, str, dict[str, Any]]]) -> list[tuple[Any, ...]]:
        """Two alternations (case-insensitive and case-sensitive), longest names first."""
        lookup: dict[tuple[bool, str], tuple[str, dict[str, Any]]] = {}
        for surface, kind, entry in names:
            sensitive = surface in self.case_sensitive
            key = (sensitive, surface if sensitive else surface.casefold())
            lookup.setdefault(key, (kind, entry))
        matchers = []
        for sensitive in (False, True):
            surfaces = sorted((k[1] for k in lookup if k[0] == sensitive), key=len, reverse=True)
            if not surfaces:
                continue
            alternation = "|".join(f"(?:{_surface_pattern(s)})" for s in surfaces)
            flags = 0 if sensitive else re.IGNORECASE
            table = {k[1]: v for k, v in lookup.items() if k[0] == sensitive}
            matchers.append((re.compile(alternation, flags), table, sensitive))
        return matchers

    @staticmethod
    def _find(matchers: list, text: str) -> list[Span]:
        candidates: list[Span] = []
        for pattern, table, sensitive in matchers:
            for m in pattern.finditer(text):
                written = m.group(0)
                key = " ".join(written.replace("’", "'").split())
                key = key if sensitive else key.casefold()
                kind, entry = table.get(key, (None, None))
                if kind is not None:
                    candidates.append(Span(m.start(), m.end(), written, kind, entry))
        return resolve_overlaps(candidates)

    def entity_spans(self, text: str) -> list[Span]:
        """Every company, metric, sector and geography name in `text`, in order."""
        return self._find(self._entity_matchers, text)

    def currency_term_spans(self, text: str) -> list[Span]:
        """Words implying a currency (crore, unicorn, Nasdaq...); Span.type is the term's kind."""
        return self._find(self._term_matchers, text)

    def home_currency(self, span: Span) -> str | None:
        """The home currency of a company's country or of a geography (None if it has none)."""
        if span.type == "COMPANY":  # an open-vocabulary name may carry only a currency hint
            home = self.country_currency.get(span.entry.get("country", ""))
            return home or span.entry.get("currency")
        if span.type == "GEOGRAPHY":
            return span.entry.get("currency")
        return None


def resolve_overlaps(candidates: list[Span]) -> list[Span]:
    """Keep the longest of overlapping spans (ties: type rank, then position); sort by position.

    Chosen spans are kept sorted by start so each candidate is checked against its two
    neighbours only: O(n log n) even for a pathological query with thousands of hits.
    """
    ranked = sorted(
        candidates, key=lambda s: (-(s.end - s.start), _TYPE_RANK.get(s.type, 9), s.start)
    )
    starts: list[int] = []
    chosen: list[Span] = []
    for span in ranked:
        i = bisect.bisect_left(starts, span.start)
        if i > 0 and chosen[i - 1].end > span.start:
            continue
        if i < len(chosen) and chosen[i].start < span.end:
            continue
        starts.insert(i, span.start)
        chosen.insert(i, span)
    return chosen


@lru_cache(maxsize=8)
def load_gazetteer(path: str | Path) -> Gazetteer:
    """Load (and cache) a gazetteers.yaml file."""
    return Gazetteer(yaml.safe_load(Path(path).read_text(encoding="utf-8")))
