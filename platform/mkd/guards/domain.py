"""Out-of-domain detection: a query about nothing the pack's tasks cover gets the empty answer.

A small lexical score, cheap enough for every request: domain terms (+2: metrics, currencies,
market words, from the pack gazetteer and the pack's vocabulary plug-in), entity names (+1:
companies, geographies, sectors), off-topic requests (-2: recipes, poems, weather...). A query
scoring below the threshold is out of domain. A pack with neither vocabulary nor gazetteer has
no domain check. English vocabulary only (see docs/guards.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from mkd.config.guards import DomainGuardConfig
from mkd.guards.decision import Action, Finding

GUARD = "domain"
STRONG, WEAK, OFF = 2.0, 1.0, -2.0
_MAX_PHRASE = 5
_TOKEN = re.compile(r"[$₹€£¥₩₽₪₦]|[^\W_]+(?:[&'./-][^\W_]+)*|%", re.UNICODE)
_PLACEHOLDER = re.compile(r"\[[A-Z_]+\]")
_MONEY = re.compile(
    r"[$₹€£¥₩₽₪₦]\s?\d|\d\s?(?:%|bn|mn|cr|k)\b|\b(?:fy|q[1-4]|h[12])\s?'?\d{2,4}\b", re.I
)


@dataclass(frozen=True)
class Lexicon:
    """Phrases (tuples of lower-case tokens) with weights; case-sensitive ones kept apart."""

    phrases: dict[tuple[str, ...], float]
    exact: dict[tuple[str, ...], float]


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def _add(table: dict[tuple[str, ...], float], phrase: str, weight: float, lower: bool) -> None:
    key = tuple(_tokens(phrase.lower() if lower else phrase))
    if key and len(key) <= _MAX_PHRASE:
        # An off-topic cue never lowers a domain term, a domain term never lowers a name.
        old = table.get(key)
        table[key] = weight if old is None else max(old, weight)


def _gazetteer_terms(data: dict[str, Any]) -> list[tuple[str, float]]:
    terms: list[tuple[str, float]] = []
    for entry in data.get("metrics", []):
        terms += [(n, STRONG) for n in [entry["name"], *entry.get("synonyms", [])]]
    for entry in data.get("currencies", []):
        names = [entry["code"], entry.get("name", ""), *entry.get("symbols", [])]
        terms += [(n, STRONG) for n in [*names, *entry.get("words", [])] if n]
    terms += [(e["term"], STRONG) for e in data.get("implicit_currency_terms", [])]
    for section in ("companies", "geographies", "sectors"):
        for entry in data.get(section, []):
            names = [entry["name"], *entry.get("aliases", []), *entry.get("synonyms", [])]
            terms += [(n, WEAK) for n in names]
    return terms


def _words(vocabulary: Any, name: str) -> list[str]:
    return list(getattr(vocabulary, name, None) or [])


@lru_cache(maxsize=8)
def load_lexicon(gazetteer: Path | None, vocabulary: Any = None) -> Lexicon:
    """A pack's vocabulary plug-in (word lists STRONG, STRONG_PHRASES, WEAK, WEAK_PHRASES,
    OFF_TOPIC, OFF_TOPIC_PHRASES, each optional) plus its gazetteer (YAML) if given."""
    phrases: dict[tuple[str, ...], float] = {}
    exact: dict[tuple[str, ...], float] = {}
    v = vocabulary
    for words, weight in (
        (_words(v, "STRONG"), STRONG),
        (_words(v, "STRONG_PHRASES"), STRONG),
        (_words(v, "WEAK"), WEAK),
        (_words(v, "WEAK_PHRASES"), WEAK),
    ):
        for w in words:
            _add(phrases, w, weight, lower=True)
    if gazetteer is not None and gazetteer.is_file():
        data = yaml.safe_load(gazetteer.read_text(encoding="utf-8")) or {}
        case_sensitive = set(data.get("case_sensitive", []))
        for term, weight in _gazetteer_terms(data):
            if term in case_sensitive:
                _add(exact, term, weight, lower=False)
            else:
                _add(phrases, term, weight, lower=True)
    for words in (_words(v, "OFF_TOPIC"), _words(v, "OFF_TOPIC_PHRASES")):
        for w in words:
            key = tuple(_tokens(w.lower()))
            phrases.setdefault(key, OFF)  # a word that is also a domain term stays a domain term
    return Lexicon(phrases, exact)


def _lookup(lex: Lexicon, raw: list[str], low: list[str], i: int) -> tuple[float, int]:
    """The longest phrase starting at token i: (weight, length), (0, 1) when none."""
    for n in range(min(_MAX_PHRASE, len(raw) - i), 0, -1):
        if (w := lex.exact.get(tuple(raw[i : i + n]))) is not None:
            return w, n
        key = tuple(low[i : i + n])
        if (w := lex.phrases.get(key)) is not None:
            return w, n
        if n == 1 and key[0].endswith("s") and (w := lex.phrases.get((key[0][:-1],))):
            return w, 1
    return 0.0, 1


def score(text: str, lex: Lexicon) -> float:
    """The domain score of a query (higher: more clearly in domain)."""
    text = _PLACEHOLDER.sub(" ", text)
    raw = _tokens(text)
    low = [t.lower() for t in raw]
    total = STRONG if _MONEY.search(text) else 0.0
    i = 0
    while i < len(raw):
        weight, n = _lookup(lex, raw, low, i)
        total += weight
        i += n
    return total


def check(text: str, cfg: DomainGuardConfig, lex: Lexicon) -> list[Finding]:
    """An `ood` finding when the query scores below the threshold (none without a lexicon)."""
    if not (lex.phrases or lex.exact) or score(text, lex) >= cfg.threshold:
        return []
    action = {"empty": Action.BLOCK, "block": Action.BLOCK, "log": Action.ALLOW}[cfg.action]
    return [Finding(GUARD, "ood", action, respond_empty=cfg.action == "empty")]
