"""Synthetic variations of curated prompts, each keeping its curated parent as `family`.

Operators: entity swaps from the gazetteers, invented company names, metric synonyms and swaps,
number and unit changes, time shifts, time phrases of another kind (`mkd.data.date_swap`),
rephrasing templates, and optional LLM paraphrases. Exact
and near-duplicates are removed (MinHash over character 5-grams, verified by exact Jaccard).
Everything draws from one seeded RNG per curated prompt, so the output depends only on (seed,
prompt, gazetteers, config).
"""

from __future__ import annotations

import functools
import hashlib
import random
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from mkd.config.data import AugmentConfig
from mkd.data.date_swap import date_swap
from mkd.data.near_dup import NearDupIndex, normalise_text

Paraphraser = Callable[[str, int], list[str]]


@dataclass(frozen=True)
class Prompt:
    """One query to label: curated (operator None) or a variation of the curated `family`."""

    id: str
    input: str
    family: str
    source: str
    operator: str | None = None
    category_hint: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


def _alternation(words: list[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True))


class _Lexicon:
    """Swap groups from the gazetteers: companies by country, geographies, sectors, metrics."""

    def __init__(self, gazetteers: dict[str, Any]) -> None:
        self.case_sensitive = set(gazetteers.get("case_sensitive", []))
        companies = gazetteers.get("companies", [])
        self.companies = [c["name"] for c in companies]
        self.country_of = {}
        for c in companies:
            for n in [c["name"], *c.get("aliases", [])]:
                self.country_of[n.casefold()] = c.get("country")
        self.company_words = [n for c in companies for n in [c["name"], *c.get("aliases", [])]]
        countries = [g for g in gazetteers.get("geographies", []) if g.get("kind") == "country"]
        self.countries = [g["name"] for g in countries]
        self.sectors = [s["name"] for s in gazetteers.get("sectors", [])]
        self.metric_groups = [
            [m["name"], *m.get("synonyms", [])] for m in gazetteers.get("metrics", [])
        ]
        self.metric_words = [w for group in self.metric_groups for w in group]

    def find(self, text: str, words: list[str]) -> list[re.Match]:
        """Word-bounded matches, case-insensitive unless listed case-sensitive; where two
        overlap the longer wins, across both kinds ("Novo Nordisk", not its alias "Novo")."""
        candidates = [m for p in self._patterns(tuple(words)) for m in p.finditer(text)]
        found: list[re.Match] = []
        for m in sorted(candidates, key=lambda m: (m.start() - m.end(), m.start())):
            if not _overlaps(m, found):
                found.append(m)
        return sorted(found, key=lambda m: m.start())

    @functools.lru_cache(maxsize=64)  # noqa: B019 - a handful of lexicons live per process
    def _patterns(self, words: tuple[str, ...]) -> list[re.Pattern]:
        exact = [w for w in words if w in self.case_sensitive]
        loose = [w for w in words if w not in self.case_sensitive]
        out = []
        for group, flags in ((exact, 0), (loose, re.IGNORECASE)):
            if group:
                out.append(re.compile(rf"(?<![\w&])(?:{_alternation(group)})(?![\w&])", flags))
        return out


def _overlaps(m: re.Match, others: list[re.Match]) -> bool:
    return any(m.start() < o.end() and o.start() < m.end() for o in others)


def _in_compound(text: str, m: re.Match) -> bool:
    """A match hyphenated to its neighbour: "loss" in "loss-making" is no metric."""
    return text[m.start() - 1 : m.start()] == "-" or text[m.end() : m.end() + 1] == "-"


def _replace(text: str, m: re.Match, new: str) -> str:
    if m.group(0).islower() and not new.isupper():
        new = new.lower()
    return text[: m.start()] + new + text[m.end() :]


def entity_swap(text: str, rng: random.Random, lex: _Lexicon) -> str | None:
    """Swap a company (same country 2 times in 3), a country or a sector for another."""
    kinds = [
        ("company", lex.find(text, lex.company_words)),
        ("country", lex.find(text, lex.countries)),
        ("sector", lex.find(text, lex.sectors)),
    ]
    kinds = [(k, ms) for k, ms in kinds if ms]
    if not kinds:
        return None
    kind, matches = rng.choice(kinds)
    m = rng.choice(matches)
    if kind == "company":
        home = lex.country_of.get(m.group(0).casefold())
        same = [c for c in lex.companies if lex.country_of.get(c.casefold()) == home]
        pool = same if same and rng.random() < 2 / 3 else lex.companies
    else:
        pool = lex.countries if kind == "country" else lex.sectors
    choices = [c for c in pool if c.casefold() != m.group(0).casefold() and c not in text]
    return _replace(text, m, rng.choice(choices)) if choices else None


_ONSETS = ["b", "c", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z"]
_ONSETS += ["br", "cr", "dr", "gr", "kl", "pl", "qu", "st", "tr", "vr"]
_VOWELS = ["a", "e", "i", "o", "u", "a", "e", "o", "ai", "io"]
_CODAS = ["", "", "", "n", "r", "x", "s", "l", "m", "nt", "rk", "th"]
_COMPANY_SUFFIXES = ["Holdings", "Group", "Industries", "Corp", "Labs", "Systems", "Technologies"]


def invented_company(rng: random.Random) -> str:
    """A pronounceable name that no gazetteer holds: Dravik, Quelorn Holdings, Tisamex Labs."""
    syllables = rng.choice([2, 2, 3])
    stem = "".join(rng.choice(_ONSETS) + rng.choice(_VOWELS) for _ in range(syllables))
    name = (stem + rng.choice(_CODAS)).capitalize()
    return name if rng.random() < 0.6 else f"{name} {rng.choice(_COMPANY_SUFFIXES)}"


def company_invent(text: str, rng: random.Random, lex: _Lexicon) -> str | None:
    """Apple -> Dravik Holdings: a company no list holds.

    Entity swaps only ever show the student the gazetteer's companies, so it can learn them by
    heart; held-out queries name others (Keyence, Robinhood), which the student then misses.
    An invented name can only be copied from the query, which is what the contract asks for.
    """
    matches = lex.find(text, lex.company_words)
    if not matches:
        return None
    name = invented_company(rng)
    if name.casefold() in lex.country_of:
        return None
    m = rng.choice(matches)
    if name.endswith("s") and text[m.end() :].startswith("'s"):
        text = text[: m.end() + 1] + text[m.end() + 2 :]  # Holdings's -> Holdings'
    return _replace(text, m, name)


def metric_synonym(text: str, rng: random.Random, lex: _Lexicon) -> str | None:
    """net profit -> net income, revenue -> sales ... (a synonym of the same metric)."""
    for group in rng.sample(lex.metric_groups, len(lex.metric_groups)):
        matches = lex.find(text, group)
        if matches:
            m = matches[0]
            options = [w for w in group if w.casefold() != m.group(0).casefold()]
            if options:
                return _replace(text, m, rng.choice(options))
    return None


def metric_swap(text: str, rng: random.Random, lex: _Lexicon) -> str | None:
    """net profit -> D/E, revenue -> active users: a metric of another gazetteer group.

    Curated prompts name a few dozen metrics; held-out queries name others the student never saw
    in training, and whether money is involved (the currency decision) hangs on that word. The
    group is drawn uniformly, then one of its names, so every metric the pack knows appears in
    training, monetary or not.
    """
    matches = [m for m in lex.find(text, lex.metric_words) if not _in_compound(text, m)]
    if not matches:
        return None
    m = rng.choice(matches)
    said = m.group(0).casefold()
    others = [g for g in lex.metric_groups if said not in (w.casefold() for w in g)]
    group = rng.choice(others)
    choices = [w for w in group if w.casefold() not in text.casefold()]
    return _replace(text, m, rng.choice(choices)) if choices else None


_AMOUNT = re.compile(
    r"(?P<cur>₹|\$|€|£|¥|Rs\.? ?|USD ?|INR ?)?(?P<num>\d[\d,]*(?:\.\d+)?)"
    r"(?P<sp> ?)(?P<unit>crore|cr|lakh|billion|bn|million|mn|m|k|trillion|%)?(?![\w])",
    re.IGNORECASE,
)
_UNIT_SWAPS = {"crore": "lakh", "lakh": "crore", "bn": "m", "m": "bn", "million": "billion"}
_UNIT_SWAPS |= {"billion": "million", "mn": "bn", "cr": "lakh", "trillion": "billion"}


def number_unit(text: str, rng: random.Random, lex: _Lexicon | None = None) -> str | None:
    """₹1,000 crore -> ₹250 crore, $100m -> $2bn, 20% -> 35%: amounts only, never years."""
    matches = [m for m in _AMOUNT.finditer(text) if m["cur"] or m["unit"]]
    if not matches:
        return None
    m = rng.choice(matches)
    unit = m["unit"] or ""
    if unit == "%":
        num = str(rng.choice([5, 10, 15, 20, 25, 30, 40, 50]))
    else:
        num = f"{rng.choice([1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 5000]):,}"
        if unit.lower() in _UNIT_SWAPS and rng.random() < 0.4:
            unit = _UNIT_SWAPS[unit.lower()]
    new = f"{m['cur'] or ''}{num}{m['sp']}{unit}"
    return None if new == m.group(0) else text[: m.start()] + new + text[m.end() :]


_YEAR = re.compile(r"(?<![\w])(?P<fy>FY ?)?(?P<year>20[0-2]\d|19\d\d)(?![\w])", re.IGNORECASE)
_FY2 = re.compile(r"(?<![\w])(?P<fy>FY ?)(?P<yy>\d\d)(?![\w])", re.IGNORECASE)
_QUARTER = re.compile(r"(?<![\w])(?P<q>Q)(?P<n>[1-4])(?![\w])", re.IGNORECASE)
_SPAN = re.compile(
    r"(?P<head>(?:last|past|previous) )(?P<n>\d+|two|three|four|five|six|seven|eight|nine|ten) "
    r"(?P<unit>fiscal years|years|quarters|months|weeks)",
    re.IGNORECASE,
)


def time_shift(text: str, rng: random.Random, lex: _Lexicon | None = None) -> str | None:
    """2023 -> 2021, FY24 -> FY22, Q3 -> Q1, last 7 years -> last 3 quarters."""
    options = []
    if _YEAR.search(text) or _FY2.search(text):
        delta = rng.choice([-3, -2, -1, 1]) if "20" in text else rng.choice([-2, -1])

        def shift_year(m: re.Match) -> str:
            return f"{m['fy'] or ''}{min(int(m['year']) + delta, 2025)}"

        def shift_fy(m: re.Match) -> str:
            return f"{m['fy']}{max(10, min(int(m['yy']) + delta, 26)):02d}"

        options.append(lambda: _FY2.sub(shift_fy, _YEAR.sub(shift_year, text)))
    if _QUARTER.search(text):
        options.append(lambda: _QUARTER.sub(lambda m: f"{m['q']}{rng.randint(1, 4)}", text, 1))
    if _SPAN.search(text):
        unit = rng.choice(["years", "quarters", "fiscal years", "months"])
        number = rng.choice([2, 3, 4, 5, 6, 8, 10])
        options.append(lambda: _SPAN.sub(lambda m: f"{m['head']}{number} {unit}", text, 1))
    if not options:
        return None
    new = rng.choice(options)()
    return None if new == text else new


_PREFIXES = ["Can you tell me ", "Quick question: ", "I need ", "Please show ", "pls give me "]
_PREFIXES += ["Help me find ", "Looking for ", "Tell me "]
_SUFFIXES = ["?", " please", " - need it for a report", " asap", " (latest numbers)"]


def rephrase(text: str, rng: random.Random, lex: _Lexicon | None = None) -> str | None:
    """Template rephrasings: a polite or terse prefix, or a suffix."""
    # Casing and punctuation alone are not variations: de-duplication compares normalised text.
    body = text.rstrip("?. ")
    if rng.random() < 0.6:
        lead = body[:1].lower() + body[1:] if body[:2].istitle() else body
        return rng.choice(_PREFIXES) + lead + ("?" if text.endswith("?") else "")
    return body + rng.choice(_SUFFIXES)


OPERATORS: dict[str, Callable[..., str | None]] = {
    "entity_swap": entity_swap,
    "company_invent": company_invent,
    "metric_synonym": metric_synonym,
    "metric_swap": metric_swap,
    "number_unit": number_unit,
    "time_shift": time_shift,
    "date_swap": date_swap,
    "rephrase": rephrase,
}


class Augmenter:
    """Makes variations of curated prompts and removes exact and near-duplicates.

    Args:
        gazetteers: the pack's gazetteers (companies, metrics, sectors, geographies...).
        cfg: the data.augment section.
        seed: the pipeline seed.
        paraphraser: optional (text, n) -> paraphrases, e.g. an LLM through the teacher.
    """

    def __init__(
        self,
        gazetteers: dict[str, Any],
        cfg: AugmentConfig,
        seed: int,
        paraphraser: Paraphraser | None = None,
    ) -> None:
        unknown = set(cfg.operators) - set(OPERATORS) - {"paraphrase"}
        if unknown:
            raise ValueError(f"data.augment.operators: unknown {sorted(unknown)}")
        self.lex, self.cfg, self.seed, self.paraphraser = (
            _Lexicon(gazetteers),
            cfg,
            seed,
            paraphraser,
        )
        self.dropped = {"exact": 0, "near": 0}

    def _rng(self, prompt: Prompt) -> random.Random:
        digest = hashlib.sha256(f"{self.seed}:{prompt.id}:{prompt.input}".encode()).digest()
        return random.Random(int.from_bytes(digest[:8], "big"))

    def candidates(self, prompt: Prompt) -> list[tuple[str, str]]:
        """(operator, text) variations of one prompt, before de-duplication."""
        rng, out = self._rng(prompt), []
        ops = [o for o in self.cfg.operators if o in OPERATORS]
        for _ in range(self.cfg.variations_per_prompt * 3):
            if len(out) >= self.cfg.variations_per_prompt or not ops:
                break
            chosen = rng.sample(ops, k=min(len(ops), rng.choice([1, 1, 2])))
            text, applied = prompt.input, []
            for name in chosen:
                new = OPERATORS[name](text, rng, self.lex)
                if new:
                    text, applied = new, [*applied, name]
            if applied and text != prompt.input:
                out.append(("+".join(applied), text))
        if self.paraphraser and self.cfg.paraphrases_per_prompt:
            paraphrases = self.paraphraser(prompt.input, self.cfg.paraphrases_per_prompt)
            out += [("paraphrase", p) for p in paraphrases if p.strip()]
        return out

    def run(self, curated: list[Prompt]) -> list[Prompt]:
        """Curated prompts first (kept), then their variations that are not (near-)duplicates."""
        index = NearDupIndex(self.cfg.near_dup_threshold, seed=self.seed)
        kept: list[Prompt] = []
        for p in curated:  # hand-written: only exact duplicates are dropped
            if index.add(p.input, check_near=False) is not None:
                kept.append(p)
        if not self.cfg.enabled:
            return kept
        for parent in list(kept):
            n = 0
            for operator, text in self.candidates(parent):
                verdict = index.add(text)
                if verdict is None:
                    self.dropped["exact" if index.last_was_exact else "near"] += 1
                    continue
                n += 1
                kept.append(
                    Prompt(
                        id=f"{parent.id}~{n:02d}",
                        input=text,
                        family=parent.family,
                        source=f"augment/{operator}",
                        operator=operator,
                        category_hint=parent.category_hint,
                    )
                )
        return kept


__all__ = ["OPERATORS", "Augmenter", "Prompt", "normalise_text"]
