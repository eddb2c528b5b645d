"""The `date_swap` operator: one time phrase of a query becomes a phrase of another kind.

Curated prompts say a year or a quarter most of the time; held-out queries say MTD, past 6 months,
since 2023 or the September 2022 quarter, and a 135M student cannot resolve a kind of phrase it
never saw in training (it answers an empty list or counts back the wrong number of years). The
kinds drawn here are the ones the date contract resolves (its labeling conventions: relative and
to-date phrases, quarters, halves, fiscal years, months, ranges, open-ended and fuzzy phrases),
each with the preposition it takes, so the variation reads like a query.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from typing import Any

_NUMBER = r"\d+|two|three|four|five|six|seven|eight|nine|ten|twelve|few|couple(?: of)?"
_UNIT = r"(?:fiscal |financial )?(?:years?|quarters?|months?|weeks?|days?|decade)"
_MONTH = (
    r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
)
_YEAR = r"(?:19|20)\d\d"
_FY = rf"(?:FY|fiscal(?: year)?) ?'?(?:{_YEAR}|\d\d)"
# Longest kinds first: a range must win over the two years inside it.
_PHRASE = "|".join(
    [
        rf"(?:from |between )?(?:{_FY}|{_YEAR})\s*(?:-|–|to|and|through)\s*(?:{_FY}|{_YEAR}|\d\d)",
        rf"(?:since|after|through|by) (?:the )?(?:{_MONTH} )?(?:{_YEAR}|pandemic|ipo)",
        r"(?:pre|post)-?covid",
        rf"(?:last|past|previous|prior|trailing|next|coming|this|current) (?:(?:{_NUMBER}) )?{_UNIT}",
        r"ytd|mtd|qtd|ttm|ltm|(?:year|month|quarter)[- ]to[- ]date|today|yesterday|right now",
        rf"(?:the )?(?:{_MONTH}) {_YEAR} quarter",
        rf"(?:early|mid|late)[- ](?:{_YEAR})",
        rf"(?:{_MONTH}) {_YEAR}",
        rf"(?:q[1-4]|h[12])\s*(?:{_FY}|'?{_YEAR}|'\d\d)?|[1-4][qh] ?'?\d\d",
        rf"(?:first|second|third|fourth) (?:quarter|half)(?: of)? (?:{_YEAR}|{_FY})",
        _FY,
        _YEAR,
    ]
)
# The preposition in front is replaced with the phrase: "in Q3 2023" -> "over the last 3 years".
_LEAD = re.compile(r"(?:\b(?:in|for|during|over|as of)\s+(?:the\s+)?)$", re.IGNORECASE)
# Part of a longer phrase the patterns do not hold whole ("by end of 2026", "the year 2024").
_BOUND_BEFORE = re.compile(
    r"\b(?:end|start|beginning|early|mid|late|of|by|since|after|through|from|between|the|year)\s+$",
    re.IGNORECASE,
)
_BOUNDED = re.compile(rf"(?<![\w$₹€£¥.,/-])(?:{_PHRASE})(?![\w%])", re.IGNORECASE)
# A phrase followed by a noun qualifies it ("Infosys' FY27 revenue guidance"): no other kind of
# phrase fits there, so only phrases that end the query or a clause are swapped.
_CLAUSE_END = re.compile(
    r"\s*(?:$|[?.,!;:)\-–]|(?:and|vs\.?|versus|or|than|compared|in|for|please|asap|on|with|by)\b)",
    re.IGNORECASE,
)
_OWN_LEAD = re.compile(r"^(?:in|over|for|at)(?: the)? ")
_SPAN = re.compile(r"^(?:last|past|previous|trailing|next) (?:\d|two|three|five|ten|decade)")

_MONTHS = ["January", "March", "June", "September", "October", "December"]
_QUARTER_ENDS = ["March", "June", "September", "December"]
_ORDINALS = ["first", "second", "third", "fourth"]
_COUNT_WORDS = {2: "two", 3: "three", 5: "five", 10: "ten"}


def _year(rng: random.Random) -> int:
    return rng.randint(2016, 2027)


def _relative_span(rng: random.Random) -> str:
    unit, counts = rng.choice(
        [("years", [2, 3, 4, 5, 7, 8, 10]), ("quarters", [2, 3, 4, 6, 8, 12]),
         ("months", [3, 6, 9, 12, 18, 24]), ("weeks", [2, 4, 6]), ("days", [7, 30, 90]),
         ("fiscal years", [2, 3, 5])]
    )  # fmt: skip
    n = rng.choice(counts)
    said = _COUNT_WORDS[n] if n in _COUNT_WORDS and rng.random() < 0.25 else str(n)
    head = rng.choice(["last", "past", "previous", "trailing", "next"])
    return f"{head} {said} {unit}"


def _relative_one(rng: random.Random) -> str:
    unit = rng.choice(["year", "quarter", "month", "week", "fiscal year"])
    return rng.choice(
        [f"{rng.choice(['last', 'this', 'next', 'previous', 'current'])} {unit}",
         rng.choice(["over the past decade", "in the last decade", "past decade"])]
    )  # fmt: skip


def _to_date(rng: random.Random) -> str:
    return rng.choice(
        ["ytd", "YTD", "MTD", "QTD", "TTM", "year to date", "year-to-date", "month to date",
         "today", "yesterday", "right now"]
    )  # fmt: skip


def _quarter(rng: random.Random) -> str:
    y, q = _year(rng), rng.randint(1, 4)
    return rng.choice(
        [f"in Q{q} {y}", f"in Q{q} FY{y % 100:02d}", f"in {q}Q{y % 100:02d}",
         f"in the {_ORDINALS[q - 1]} quarter of {y}", f"in the {rng.choice(_QUARTER_ENDS)} {y} quarter",
         f"in H{rng.randint(1, 2)} {y}", f"in H{rng.randint(1, 2)} FY{y % 100:02d}"]
    )  # fmt: skip


def _year_kinds(rng: random.Random) -> str:
    y = _year(rng)
    return rng.choice(
        [f"in {y}", f"in FY{y % 100:02d}", f"in FY{y}", f"in fiscal {y}",
         f"in {rng.choice(_MONTHS)} {y}", f"in {rng.choice(['early', 'mid', 'late'])} {y}",
         f"at the end of {y}"]
    )  # fmt: skip


def _range(rng: random.Random) -> str:
    a = rng.randint(2015, 2024)
    b = rng.randint(a + 1, 2026)
    return rng.choice(
        [f"from {a} to {b}", f"between {a} and {b}", f"in {a}-{b}", f"from FY{a % 100:02d} to FY{b % 100:02d}",
         f"since {a}", f"since {rng.choice(_MONTHS)} {a}", f"after {a}", f"through {b}",
         "since the pandemic", "post-Covid", "pre-Covid", f"by {rng.choice([2028, 2030, 2035])}"]
    )  # fmt: skip


# Weighted toward the kinds curated prompts rarely say (relative, to-date, ranges).
_KINDS: list[tuple[Callable[[random.Random], str], int]] = [
    (_relative_span, 4), (_relative_one, 2), (_to_date, 3), (_quarter, 2), (_year_kinds, 1),
    (_range, 3),
]  # fmt: skip


def date_phrases(text: str) -> list[re.Match]:
    """The time phrases `date_swap` can replace, in order (years, quarters, ranges, relative...)."""
    return list(_BOUNDED.finditer(text))


def new_date_phrase(rng: random.Random) -> str:
    """A time phrase of a kind drawn by weight, with its preposition ("over the past 6 months")."""
    makers, weights = zip(*_KINDS, strict=True)
    return rng.choices(makers, weights=weights)[0](rng)


def date_swap(text: str, rng: random.Random, lex: Any = None) -> str | None:
    """Q3 2023 -> MTD, in 2024 -> over the last 5 years, FY24 -> since 2019 (one phrase)."""
    found = []  # (phrase, the preposition in front of it or None)
    for m in date_phrases(text):
        before = text[: m.start()]
        lead = _LEAD.search(before)
        if _CLAUSE_END.match(text, m.end()) and (lead or not _BOUND_BEFORE.search(before)):
            found.append((m, lead))
    if not found:
        return None
    m, lead = rng.choice(found)
    start = m.start()
    new = new_date_phrase(rng)
    if lead:  # the new phrase brings its own: "in 2023" -> "MTD", "in the last 3 years" -> "in Q3"
        start = lead.start()
        if _SPAN.match(new):
            new = rng.choice(["over the ", "in the ", "for the "]) + new
    else:  # "vs 2023" -> "vs Q3 2023", not "vs in Q3 2023"
        new = _OWN_LEAD.sub("", new)
    if start == 0:
        new = new[0].upper() + new[1:]
    out = f"{text[:start]}{new}{text[m.end() :]}"
    return None if out == text else out


__all__ = ["date_phrases", "date_swap", "new_date_phrase"]
