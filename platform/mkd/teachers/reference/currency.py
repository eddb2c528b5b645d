"""currency_identifier: explicit signs and words first, then implied currencies, else none.

Rules, in order (docs/finance-pack.md):
1. explicit: the first currency symbol, ISO code or currency word in the query (bare "¥" is JPY
   unless the query is about China, then CNY).
2. implicit by a unit or slang term that always means money: crore/lakh -> INR, unicorn -> USD.
3. implicit when the query involves money (a monetary metric, an amount, raise/worth/price...):
   the first market term (Nasdaq -> USD), else the first geography with a home currency, else
   the first company's home currency, else USD when a company the gazetteer does not know
   is named.
4. none (no money involved, or a DEFINITION query with neither 1 nor 2): currency and symbol
   null.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from mkd.teachers.reference.entities import metric_spans
from mkd.teachers.reference.gazetteer import Gazetteer, Span, resolve_overlaps

NONE: dict[str, Any] = {"currency": None, "symbol": None, "mention": "none"}

# Signs that need context: "$" after letters is another dollar (HK$, A$...), handled by the
# symbol table; "won", "rand", "real" are ordinary words unless an amount or "in" precedes them.
_AMOUNT_ONLY_WORDS = {"won", "rand", "dong", "real", "franc", "francs", "peso", "pesos"}
# "500 billion won", "market cap in won": an amount or "in" right before the word.
_AMOUNT_BEFORE = re.compile(
    r"(?:\d[\d,.]{0,20}\s*(?:k|m|mn|bn|b|million|billion|trillion|tn)?|\bin)\s*\|$", re.I
)
_MONEY_WORDS = re.compile(
    r"(?<![\w])(?:rais(?:e|ed|es|ing)|worth|price[sd]?|costs?|spen[dt]|spending|invest(?:ed|ment|ments)?|"
    r"(?:most|best|well)[-\s]funded|how much|amount|money|paid|pay(?:s|ing)?\s+out)(?![\w])",
    re.I,
)
_AMOUNT = re.compile(
    r"(?<![\d,.])\d[\d,.]{0,20}\s*(?:k|m|mn|bn|b|million|billion|trillion|tn|crore|cr|lakh)(?![\w])",
    re.I,
)


def _currency_sign_spans(gazetteer: Gazetteer, text: str) -> list[Span]:
    """Explicit mentions: symbols and codes (case as written), currency words (any case)."""
    spans: list[Span] = []
    for code, cur in gazetteer.currencies.items():
        for sign in cur.get("symbols", []):
            word_like = sign[-1].isalnum()
            tail = r"(?![A-Za-z])" if word_like else ""
            head = r"(?<![A-Za-z])" if sign[0].isalpha() else r"(?<![A-Za-z$])"
            pattern = head + re.escape(sign) + tail
            flags = re.I if sign.lower() in ("rs", "rs.") else 0
            for m in re.finditer(pattern, text, flags):
                spans.append(Span(m.start(), m.end(), m.group(0), code, cur))
        for word in cur.get("words", []):
            pattern = r"(?<![\w])" + r"\s+".join(map(re.escape, word.split())) + r"(?![\w])"
            for m in re.finditer(pattern, text, re.I):
                before = text[max(0, m.start() - 40) : m.start()]
                if word in _AMOUNT_ONLY_WORDS and not _AMOUNT_BEFORE.search(before + "|"):
                    continue
                spans.append(Span(m.start(), m.end(), m.group(0), code, cur))
    return resolve_overlaps(spans)


def _answer(gazetteer: Gazetteer, code: str, mention: str) -> dict[str, Any]:
    symbol = gazetteer.currencies.get(code, {}).get("symbol") or code
    return {"currency": code, "symbol": symbol, "mention": mention}


def _explicit(gazetteer: Gazetteer, text: str, entities: Sequence[Span]) -> str | None:
    names = [s for s in entities if s.type == "COMPANY"]
    # "Dollar General", "Rand Capital": a currency word inside a company name names no currency.
    signs = [
        sign
        for sign in _currency_sign_spans(gazetteer, text)
        if not any(n.start <= sign.start and sign.end <= n.end for n in names)
    ]
    if not signs:
        return None
    first = signs[0]
    if first.text == "¥" and any(gazetteer.home_currency(s) == "CNY" for s in entities):
        return "CNY"
    return first.type


def involves_money(text: str, entities: Sequence[Span]) -> bool:
    """A monetary metric, an amount with a scale, or a money verb/noun is in the query."""
    if any(s.type == "METRIC" and s.entry.get("monetary") for s in entities):
        return True
    return bool(_AMOUNT.search(text) or _MONEY_WORDS.search(text))


def identify_currency(
    gazetteer: Gazetteer,
    text: str,
    definition: bool = False,
    entities: Sequence[Span] | None = None,
) -> dict[str, Any]:
    """The currency_identifier answer for one query (always schema-valid).

    `definition`: the query asks what a term means. Such a query involves no amount, so only a
    written currency or a term that always means one ("What is a lakh?") names a currency.
    `entities`: the query's `metric_spans` when the caller has them already.
    """
    entities = metric_spans(gazetteer, text) if entities is None else entities
    code = _explicit(gazetteer, text, entities)
    if code:
        return _answer(gazetteer, code, "explicit")
    terms = gazetteer.currency_term_spans(text)
    always = [t for t in terms if t.type in ("unit", "slang")]
    if always:
        return _answer(gazetteer, always[0].entry["currency"], "implicit")
    if definition or not involves_money(text, entities):
        return dict(NONE)
    if terms:
        return _answer(gazetteer, terms[0].entry["currency"], "implicit")
    for kind in ("GEOGRAPHY", "COMPANY"):
        for span in entities:
            home = gazetteer.home_currency(span) if span.type == kind else None
            if home:
                return _answer(gazetteer, home, "implicit")
    # A company the gazetteer does not know: its home currency is unknown, so spec rule 4
    # (otherwise USD) applies. With no company named at all the pack's gold says none.
    if any(s.type == "COMPANY" and s.entry.get("open") for s in entities):
        return _answer(gazetteer, "USD", "implicit")
    return dict(NONE)
