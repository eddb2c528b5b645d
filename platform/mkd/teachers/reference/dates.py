"""date_interpretation: time phrases found by rules, resolved against as_of (docs/finance-pack.md).

Each rule is a regex and a resolver returning (date_period, start, end). Candidates from all
rules compete for the text (the longest wins), then "since/before/after/until X" wrappers turn a
point into an open range. Phrases are reported as written, without "in/for/the/over".
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from mkd.teachers.reference import calendar_units as cu

Resolved = tuple[str, date | None, date | None]

MONTHS = {
    name: i + 1
    for i, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sept", "sep"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ]
    )
    for name in names
}
NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20,
    "a few": 3, "few": 3, "several": 3, "a couple of": 2, "couple of": 2, "a couple": 2,
}  # fmt: skip
ORDINALS = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "1st": 1,
    "2nd": 2,
    "3rd": 3,
    "4th": 4,
}

Y4 = r"(?:19[5-9]\d|20[0-4]\d)"
YR = rf"(?:{Y4}|'?\d{{2}})"  # a year written with 4 or 2 digits
FY = r"(?:fy\s?'?(?:\d{4}|\d{2})|fiscal(?:\s+year)?\s+'?(?:\d{4}|\d{2}))"
MON = r"(?:" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")"
NUM = r"(?:\d{1,2}|" + "|".join(sorted(NUMBER_WORDS, key=len, reverse=True)) + r")"
UNIT = (
    r"(?:fiscal\s+years?|financial\s+years?|fiscal|fys?|years?|yrs?|quarters?|qtrs?|months?"
    r"|weeks?|days?|decades?)"
)
B, E = r"(?<![\w$₹€£¥])", r"(?![\w%])"


@dataclass(frozen=True)
class Ctx:
    """What resolution depends on: as_of and the fiscal-year start month."""

    as_of: date
    fy_start: int


def _year(text: str) -> int:
    digits = re.sub(r"\D", "", text)
    return int(digits) if len(digits) == 4 else 2000 + int(digits[-2:])


def _fy_number(token: str) -> int:
    return _year(re.sub(r"(?i)fy|fiscal|year", "", token))


def _unit_name(word: str) -> str:
    word = word.lower()
    if word.startswith(("fiscal", "financial", "fy")):
        return "fy"
    for unit in ("year", "yr", "quarter", "qtr", "month", "week", "day", "decade"):
        if word.startswith(unit):
            return {"yr": "year", "qtr": "quarter"}.get(unit, unit)
    return "year"


def _count(word: str | None, unit_word: str) -> int:
    if not word:
        return 3 if unit_word.lower().endswith("s") else 1  # "recent quarters" = a few = 3
    word = " ".join(word.lower().split())
    return int(word) if word.isdigit() else NUMBER_WORDS.get(word, 3)


def _relative(direction: str, count_word: str | None, unit_word: str, ctx: Ctx) -> Resolved:
    unit = _unit_name(unit_word)
    count = _count(count_word, unit_word)
    if unit == "decade":
        unit, count = "year", 10 * count
    now = cu.current_index(unit, ctx.as_of, ctx.fy_start)
    first, last = {
        "last": (now - count, now - 1),
        "next": (now + 1, now + count),
        "this": (now, now),
    }[direction]
    start, end = cu.span_bounds(unit, first, last, ctx.fy_start)
    return cu.UNIT_PERIOD[unit], start, end


def _latest_started(
    unit_start: Callable[[int], tuple[date, date]], as_of: date
) -> tuple[date, date]:
    """A bare "Q3" / "H2" / "March": the most recent one that started on or before as_of."""
    for year in (as_of.year, as_of.year - 1):
        start, end = unit_start(year)
        if start <= as_of:
            return start, end
    return unit_start(as_of.year - 1)


# --- resolvers: (match, ctx) -> Resolved | None ------------------------------------------------
def r_year_range(m: re.Match, ctx: Ctx) -> Resolved | None:
    a, b = _year(m["a"]), _year(m["b"])
    if b < 100:
        b += a // 100 * 100
    if b < a:
        return None
    return "YEAR", date(a, 1, 1), date(b, 12, 31)


def r_fy_range(m: re.Match, ctx: Ctx) -> Resolved | None:
    a, b = _fy_number(m["a"]), _fy_number(m["b"])
    if b < a or (m["conn"].strip().lower() == "and" and not m["lead"]):
        return None  # "FY24 and FY25" are two fiscal years, "between FY24 and FY25" one range
    single = not re.match(r"(?i)fy|fiscal", m["b"].strip()) and b == a + 1 and not m["lead"]
    first = b if single else a  # "FY2023-24" (Indian style) is one fiscal year, FY2024
    return "FY", cu.fy_bounds(first, ctx.fy_start)[0], cu.fy_bounds(b, ctx.fy_start)[1]


def r_fy(m: re.Match, ctx: Ctx) -> Resolved:
    return "FY", *cu.fy_bounds(_fy_number(m[0]), ctx.fy_start)


def r_calendar_year(m: re.Match, ctx: Ctx) -> Resolved:
    y = _year(m["y"])
    return "YEAR", date(y, 1, 1), date(y, 12, 31)


def r_year(m: re.Match, ctx: Ctx) -> Resolved | None:
    after = m.string[m.end() :]
    before = m.string[: m.start()]
    if re.match(
        r"\s*(?:crore|cr|lakh|million|mn|bn|billion|employees|stores|units|users|shares|points|,\d|\.\d)",
        after,
        re.I,
    ):
        return None
    if re.search(
        r"(?:than|top|bottom|nifty|s&p|sp|fortune global|global|russell)\s*$", before, re.I
    ):
        return None
    y = int(m[0])
    return "YEAR", date(y, 1, 1), date(y, 12, 31)


def _quarter(q: int, year: str | None, fiscal: bool, ctx: Ctx) -> tuple[date, date]:
    if year is None:
        return _latest_started(lambda y: cu.fiscal_quarter_bounds(y, q, 1), ctx.as_of)
    if fiscal:
        return cu.fiscal_quarter_bounds(_year(year), q, ctx.fy_start)
    return cu.fiscal_quarter_bounds(_year(year), q, 1)


def r_quarter(m: re.Match, ctx: Ctx) -> Resolved:
    q = int(m["q"]) if m["q"] else ORDINALS[m["ord"].lower()]
    year = m["fy"] or m["y"]
    return "QUARTER", *_quarter(q, year, bool(m["fy"]), ctx)


def r_quarter_range(m: re.Match, ctx: Ctx) -> Resolved | None:
    q1, q2 = int(m["q1"]), int(m["q2"])
    if q2 < q1:
        return None
    fiscal = bool(m["fy"])
    year = m["fy"] or m["y"]
    return "QUARTER", _quarter(q1, year, fiscal, ctx)[0], _quarter(q2, year, fiscal, ctx)[1]


def r_half(m: re.Match, ctx: Ctx) -> Resolved:
    h = int(m["h"]) if m["h"] else ORDINALS[m["ord"].lower()]
    if m["fy"]:
        return "UNSPECIFIED", *cu.fiscal_half_bounds(_year(m["fy"]), h, ctx.fy_start)
    if m["y"]:
        return "UNSPECIFIED", *cu.fiscal_half_bounds(_year(m["y"]), h, 1)
    return "UNSPECIFIED", *_latest_started(lambda y: cu.fiscal_half_bounds(y, h, 1), ctx.as_of)


def r_month(m: re.Match, ctx: Ctx) -> Resolved:
    month = MONTHS[m["mon"].lower()]
    if m["y"]:
        y = _year(m["y"])
        return "MONTH", date(y, month, 1), cu.month_end(y, month)
    return "MONTH", *_latest_started(
        lambda y: (date(y, month, 1), cu.month_end(y, month)), ctx.as_of
    )


def r_month_quarter(m: re.Match, ctx: Ctx) -> Resolved:
    """ "the September 2024 quarter": the calendar quarter ending in (containing) that month."""
    month, y = MONTHS[m["mon"].lower()], _year(m["y"])
    q = (month - 1) // 3 + 1
    return "QUARTER", *cu.fiscal_quarter_bounds(y, q, 1)


def r_year_ended(m: re.Match, ctx: Ctx) -> Resolved:
    """ "year ended August 2024": the twelve months ending with that month, a fiscal year."""
    month, y = MONTHS[m["mon"].lower()], _year(m["y"])
    sy, sm = cu.shift_month(y, month, -11)
    return "FY", date(sy, sm, 1), cu.month_end(y, month)


def r_day(m: re.Match, ctx: Ctx) -> Resolved | None:
    try:
        if m["iso"]:
            d = date.fromisoformat(m["iso"])
        else:
            d = date(_year(m["y"]), MONTHS[m["mon"].lower()], int(m["d"]))
    except ValueError:
        return None
    return "DAY", d, d


def r_relative(m: re.Match, ctx: Ctx) -> Resolved:
    word = m["dir"].lower()
    direction = (
        "next" if word in ("next", "coming", "upcoming", "following") else
        "this" if word in ("this", "current", "present") else "last"
    )  # fmt: skip
    return _relative(direction, m["n"], m["unit"], ctx)


def r_to_date(m: re.Match, ctx: Ctx) -> Resolved | None:
    key = re.sub(r"[^a-z]", "", m[0].lower())
    unit = {"ytd": "year", "yeartodate": "year", "mtd": "month", "monthtodate": "month",
            "qtd": "quarter", "quartertodate": "quarter", "fytd": "fy"}.get(key)  # fmt: skip
    if unit is None:  # TTM / LTM: the last twelve complete months
        return _relative("last", "12", "months", ctx)
    start, _ = cu.index_bounds(unit, cu.current_index(unit, ctx.as_of, ctx.fy_start), ctx.fy_start)
    return cu.UNIT_PERIOD[unit], start, ctx.as_of


def r_day_word(m: re.Match, ctx: Ctx) -> Resolved:
    d = ctx.as_of - timedelta(days=1) if m[0].lower() == "yesterday" else ctx.as_of
    return "DAY", d, d


RULES: list[tuple[re.Pattern, Callable[[re.Match, Ctx], Resolved | None]]] = [
    (re.compile(rf"{B}(?P<lead>(?:from|between)\s+)?(?P<a>{FY})\s*(?P<conn>[-–—/]|\s(?:to|until|till|through|and)\s)\s*(?P<b>{FY}|'?\d{{2,4}}){E}", re.I), r_fy_range),
    (re.compile(rf"{B}(?:(?:from|between)\s+)?(?P<a>{Y4})\s*(?:[-–—]|\s(?:to|until|till|through)\s)\s*(?P<b>{Y4}|\d{{2}}){E}", re.I), r_year_range),
    (re.compile(rf"{B}between\s+(?P<a>{Y4})\s+and\s+(?P<b>{Y4}){E}", re.I), r_year_range),
    (re.compile(rf"{B}(?:cy|calendar(?:\s+year)?)\s?'?(?P<y>{Y4}|\d{{2}}){E}", re.I), r_calendar_year),
    (re.compile(rf"{B}{FY}{E}", re.I), r_fy),
    (re.compile(rf"{B}q(?P<q1>[1-4])\s*[-–]\s*q(?P<q2>[1-4])(?:\s*(?P<fy>{FY})|\s*(?P<y>{Y4}|'\d{{2}}))?{E}", re.I), r_quarter_range),
    (re.compile(rf"{B}(?:q(?P<q>[1-4])|(?P<ord>first|second|third|fourth|1st|2nd|3rd|4th)\s+quarter(?:\s+of)?)(?:[\s,]*(?P<fy>{FY})|\s*(?P<y>{Y4}|'\d{{2}}|\d{{2}}(?!\d)))?{E}", re.I), r_quarter),
    (re.compile(rf"{B}(?P<q>[1-4])q\s?(?P<y>'?\d{{2}}|{Y4}){E}", re.I), lambda m, c: ("QUARTER", *_quarter(int(m["q"]), m["y"], False, c))),
    (re.compile(rf"{B}(?:h(?P<h>[12])|(?P<ord>first|second)\s+half(?:\s+of)?)(?:\s*(?P<fy>{FY})|\s*(?P<y>{Y4}|'\d{{2}}|\d{{2}}(?!\d)))?{E}", re.I), r_half),
    (re.compile(rf"{B}(?P<mon>{MON})\.?\s+(?P<y>{Y4})\s+quarter{E}", re.I), r_month_quarter),
    (re.compile(rf"{B}(?:fiscal\s+|financial\s+)?year\s+end(?:ed|ing)\s+(?:on\s+)?(?:\d{{1,2}}(?:st|nd|rd|th)?\s+)?(?P<mon>{MON})\.?,?\s+(?P<y>{Y4}){E}", re.I), r_year_ended),
    (re.compile(rf"{B}(?P<mon>(?!may\b){MON}|May)\.?,?(?:\s+(?P<y>{Y4}|'\d{{2}}))?{E}", re.I), r_month),
    (re.compile(rf"{B}(?:(?P<iso>{Y4}-\d{{2}}-\d{{2}})|(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\s+(?P<mon>{MON})\.?,?\s+(?P<y>{Y4}))|(?P<mon2>{MON})\.?\s+(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<y2>{Y4}){E}", re.I), lambda m, c: r_day_any(m, c)),
    (re.compile(rf"{B}(?P<dir>last|past|previous|prior|trailing|recent|next|coming|upcoming|following|this|current|present)\s+(?:(?P<n>{NUM})\s+)?(?P<unit>{UNIT}){E}", re.I), r_relative),
    (re.compile(rf"{B}(?:ytd|mtd|qtd|fytd|ttm|ltm|year[-\s]to[-\s]date|month[-\s]to[-\s]date|quarter[-\s]to[-\s]date|trailing\s+twelve\s+months){E}", re.I), r_to_date),
    (re.compile(rf"{B}(?:today|yesterday|right\s+now){E}", re.I), r_day_word),
    (re.compile(rf"{B}{Y4}{E}"), r_year),
]  # fmt: skip


def r_day_any(m: re.Match, ctx: Ctx) -> Resolved | None:
    if m["mon2"]:
        try:
            d = date(int(m["y2"]), MONTHS[m["mon2"].lower()], int(m["d2"]))
        except ValueError:
            return None
        return "DAY", d, d
    return r_day(m, ctx)


EDGE = re.compile(r"(?P<edge>end|start|beginning)\s+of\s+(?:the\s+)?$", re.I)
WRAPPER = re.compile(
    r"(?P<w>since|from|after|before|until|till|through|prior\s+to|up\s+to)\s+(?:the\s+)?$", re.I
)
# Abbreviations asked about ("What does YTD mean?") are terms being defined, not time references.
DEFINING = re.compile(r"\b(?:mean|means|meaning|stand\s+for|define|definition)\b", re.I)
ABBREVIATIONS = {"ytd", "mtd", "qtd", "fytd", "ttm", "ltm", "qoq", "yoy"}


@dataclass
class Found:
    """A time phrase found in the text and its resolved range."""

    start: int
    end: int
    period: str
    first: date | None
    last: date | None


Rule = tuple[re.Pattern, Callable[[re.Match, Ctx], Resolved | None]]


def _candidates(text: str, ctx: Ctx, rules: list[Rule]) -> list[Found]:
    found = []
    for pattern, resolver in rules:
        for m in pattern.finditer(text):
            resolved = resolver(m, ctx)
            if resolved:
                found.append(Found(m.start(), m.end(), *resolved))
    ranked = sorted(found, key=lambda f: (-(f.end - f.start), f.start))  # stable: rule order
    chosen: list[Found] = []
    for f in ranked:
        if all(f.end <= c.start or f.start >= c.end for c in chosen):
            chosen.append(f)
    return sorted(chosen, key=lambda f: f.start)


def _resolve_phrase(phrase: str, ctx: Ctx) -> Resolved | None:
    """Resolve a phrase that must be exactly one time expression (a convention's same_as)."""
    found = _candidates(phrase, ctx, RULES)
    if len(found) == 1 and found[0].start == 0 and found[0].end == len(phrase):
        return found[0].period, found[0].first, found[0].last
    return None


def convention_rules(conventions: dict[str, dict[str, Any]]) -> list[Rule]:
    """The pack's named fuzzy periods (post-Covid, last few quarters...) as rules."""
    rules: list[Rule] = []
    for key, conv in conventions.items():
        names = [key, *conv.get("aliases", [])]
        alternation = "|".join(
            r"[\s-]+".join(map(re.escape, re.split(r"[\s-]+", n))) for n in names
        )
        pattern = re.compile(rf"{B}(?:{alternation}){E}", re.I)

        def resolve(m: re.Match, ctx: Ctx, conv: dict[str, Any] = conv) -> Resolved | None:
            if conv.get("same_as"):
                return _resolve_phrase(conv["same_as"], ctx)
            as_date = lambda v: date.fromisoformat(str(v)) if v else None  # noqa: E731
            return (
                conv.get("date_period", "UNSPECIFIED"),
                as_date(conv.get("start")),
                as_date(conv.get("end")),
            )

        rules.append((pattern, resolve))
    return rules


def _wrap(text: str, f: Found) -> Found:
    """Extend a point by a preceding "since/before/after/until" or "end of/start of"."""
    before = text[: f.start]
    edge = EDGE.search(before)
    if edge and f.first and f.last:
        day = f.last if edge["edge"].lower() == "end" else f.first
        return Found(edge.start(), f.end, "DAY", day, day)
    wrap = WRAPPER.search(before)
    if not wrap or re.match(r"(?i)(?:from|between)\b", text[f.start :]):
        return f
    word = wrap["w"].lower().split()[0]
    if word in ("since", "from"):
        first, last = f.first, None
    elif word == "after":
        first, last = (f.last + timedelta(days=1) if f.last else None), None
    elif word in ("before", "prior"):
        first, last = None, (f.first - timedelta(days=1) if f.first else None)
    else:
        first, last = None, f.last
    return Found(wrap.start(), f.end, f.period, first, last)


_JOIN = re.compile(r"\s*(?:to|until|till|through|thru|and|[-–—])\s*", re.I)
_LEAD = re.compile(r"(?P<lead>from|between)\s+$", re.I)


def _range_start(text: str, a: Found, b: Found) -> int | None:
    """Where the range "a .. b" starts in the text, or None when a and b are two points.

    A dash always joins; "to/until/through" need a leading "from"; "and" needs "between".
    """
    join = _JOIN.fullmatch(text[a.end : b.start])
    if not join or not (a.first and b.last and a.first <= b.last):
        return None
    word = join.group(0).strip().lower()
    lead = _LEAD.search(text[: a.start])
    if word in ("-", "–", "—"):
        return lead.start() if lead else a.start
    wanted = "between" if word == "and" else "from"
    return lead.start() if lead and lead["lead"].lower() == wanted else None


def _merge_ranges(text: str, found: list[Found]) -> list[Found]:
    """ "from Q1 FY24 to Q3 FY25", "between March 2023 and June 2024": one range, not two points."""
    out: list[Found] = []
    i = 0
    while i < len(found):
        a = found[i]
        start = _range_start(text, a, found[i + 1]) if i + 1 < len(found) else None
        if start is None:
            out.append(a)
            i += 1
            continue
        out.append(Found(start, found[i + 1].end, a.period, a.first, found[i + 1].last))
        i += 2
    return out


def interpret_dates(
    text: str, as_of: date, fy_start: int = 1, conventions: dict[str, dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """Every time reference in `text`, in order, as date_interpretation items."""
    ctx = Ctx(as_of, fy_start)
    rules = convention_rules(conventions or {}) + RULES
    items = []
    for f in _merge_ranges(text, _candidates(text, ctx, rules)):
        phrase = text[f.start : f.end]
        if phrase.lower() in ABBREVIATIONS and DEFINING.search(text):
            continue
        f = _wrap(text, f)
        items.append(
            {
                "phrase": " ".join(text[f.start : f.end].split()),
                "date_period": f.period,
                "start": f.first.isoformat() if f.first else None,
                "end": f.last.isoformat() if f.last else None,
            }
        )
    return items
