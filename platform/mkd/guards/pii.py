"""Personal data in a query: detection with checksums where a number has one, typed redaction.

Structured numbers are validated with python-stdnum (Luhn for cards, Verhoeff for Aadhaar,
mod-97 for IBAN, the PAN and SSN rules); phone numbers with Google's libphonenumber port
(`phonenumbers`), which knows each region's numbering plan. A number without a valid checksum
still counts when a keyword names it just before ("Aadhaar no.", "card", "account number"),
because a user's typo does not make it less personal.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import phonenumbers
from stdnum import iban as std_iban
from stdnum import luhn
from stdnum.in_ import aadhaar as std_aadhaar
from stdnum.in_ import pan as std_pan
from stdnum.us import ssn as std_ssn

from mkd.config.guards import PiiGuardConfig
from mkd.guards.decision import Action, Finding

GUARD = "pii"
PLACEHOLDERS = {
    "email": "[EMAIL]",
    "phone": "[PHONE]",
    "card": "[CARD]",
    "iban": "[IBAN]",
    "account": "[ACCOUNT]",
    "pan": "[PAN]",
    "aadhaar": "[AADHAAR]",
    "ssn": "[SSN]",
    "upi": "[UPI]",
}


@dataclass(frozen=True)
class PiiSpan:
    """Where a value of one kind sits in the text (the value itself is never kept)."""

    kind: str
    start: int
    end: int


def _digits(s: str) -> str:
    return "".join(c for c in s if c.isdigit())


def _valid(check: Callable[[str], bool], value: str) -> bool:
    try:
        return bool(check(value))
    except Exception:  # stdnum raises on odd input (non-ASCII digits...): not a match
        return False


def _keyword_before(text: str, start: int, pattern: re.Pattern, window: int = 32) -> bool:
    return bool(pattern.search(text[max(0, start - window) : start]))


_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]*"
    r"(?:@|\s*[\[({]\s*at\s*[\])}]\s*)"
    r"[A-Za-z0-9-]+(?:(?:\.|\s*[\[({]\s*dot\s*[\])}]\s*)[A-Za-z0-9-]+)*"
    r"(?:\.|\s*[\[({]\s*dot\s*[\])}]\s*)[A-Za-z]{2,}(?![\w-])",
    re.IGNORECASE,
)
_UPI_HANDLES = (
    "okaxis|okhdfcbank|okicici|oksbi|ybl|ibl|axl|paytm|upi|apl|yapl|ptyes|ptaxis|pthdfc|ptsbi"
    "|fbl|icici|sbi|hdfcbank|axisbank|kotak|barodampay|airtel|jio|freecharge|ikwik|abfspay"
    "|waicici|wahdfcbank|waaxis|wasbi|axisbank|idfcbank|indus|federal|rbl|yesbank|pnb|boi"
)
_UPI = re.compile(rf"(?<![\w.+-])[A-Za-z0-9][\w.-]{{1,}}@(?:{_UPI_HANDLES})(?![\w.-])", re.I)
_CARD = re.compile(r"(?<!\d)(?<!\d[.,])\d(?:[ -]?\d){12,18}(?!\d|[.,]\d)")
_CARD_WORDS = re.compile(r"card|credit|debit|visa|master|amex|rupay|cc\b", re.I)
_AADHAAR = re.compile(r"(?<!\d)(?<!\d[.,])\d{4}[ -]?\d{4}[ -]?\d{4}(?!\d|[.,]\d)")
_AADHAAR_WORDS = re.compile(r"aadh?aa?r|\buid\b|\buidai\b", re.I)
_PAN = re.compile(
    r"(?<![A-Za-z0-9])[A-Za-z]{3}[PCHFATBLJG][A-Za-z]\d{4}[A-Za-z](?![A-Za-z0-9])", re.I
)
_SSN = re.compile(r"(?<!\d)(?<!\d[.,])(?:\d{3}([- ])\d{2}\1\d{4}|\d{9})(?!\d|[.,]\d)")
_SSN_WORDS = re.compile(r"\bssn\b|social security|\bss#", re.I)
_IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{2}\d{2}(?: ?[A-Za-z0-9]){11,30}", re.I)
_ACCOUNT = re.compile(
    r"(?:\baccount|\bacct|\ba/c|\bac)\.?\s*(?:no\.?|number|num|#)?\s*[:#-]?\s*"
    r"(\d(?:[ -]?\d){8,17})(?!\d|[.,]\d)",
    re.I,
)


def _emails(text: str) -> Iterator[PiiSpan]:
    for m in _EMAIL.finditer(text):
        if "@" in m.group(0) or re.search(r"[\[({]\s*at\s*[\])}]", m.group(0), re.I):
            yield PiiSpan("email", m.start(), m.end())


def _upis(text: str) -> Iterator[PiiSpan]:
    for m in _UPI.finditer(text):
        yield PiiSpan("upi", m.start(), m.end())


def _cards(text: str) -> Iterator[PiiSpan]:
    for m in _CARD.finditer(text):
        digits = _digits(m.group(0))
        if not 13 <= len(digits) <= 19 or len(set(digits)) == 1:
            continue
        issuer_like = digits[0] in "23456"
        if (issuer_like and _valid(luhn.is_valid, digits)) or _keyword_before(
            text, m.start(), _CARD_WORDS
        ):
            yield PiiSpan("card", m.start(), m.end())


def _aadhaars(text: str) -> Iterator[PiiSpan]:
    for m in _AADHAAR.finditer(text):
        if _valid(std_aadhaar.is_valid, _digits(m.group(0))) or _keyword_before(
            text, m.start(), _AADHAAR_WORDS
        ):
            yield PiiSpan("aadhaar", m.start(), m.end())


def _pans(text: str) -> Iterator[PiiSpan]:
    for m in _PAN.finditer(text):
        if _valid(std_pan.is_valid, m.group(0).upper()):
            yield PiiSpan("pan", m.start(), m.end())


def _ssns(text: str) -> Iterator[PiiSpan]:
    for m in _SSN.finditer(text):
        dashed = m.group(1) is not None
        if (dashed and _valid(std_ssn.is_valid, _digits(m.group(0)))) or _keyword_before(
            text, m.start(), _SSN_WORDS
        ):
            yield PiiSpan("ssn", m.start(), m.end())


def _ibans(text: str) -> Iterator[PiiSpan]:
    pos = 0
    while m := _IBAN.search(text, pos):
        # The pattern runs on into following words ("... 32 and"): try shorter cuts, longest
        # first, and resume after the IBAN found (the next one may start inside this match).
        candidate, pos = m.group(0), m.start() + 1
        for cut in range(len(candidate), 14, -1):
            at_boundary = cut == len(candidate) or candidate[cut] == " "
            if (
                at_boundary
                and candidate[cut - 1] != " "
                and _valid(std_iban.is_valid, candidate[:cut])
            ):
                yield PiiSpan("iban", m.start(), m.start() + cut)
                pos = m.start() + cut
                break


def _accounts(text: str) -> Iterator[PiiSpan]:
    for m in _ACCOUNT.finditer(text):
        yield PiiSpan("account", m.start(1), m.end(1))


def _phones(text: str, regions: list[str]) -> Iterator[PiiSpan]:
    if sum(c.isdigit() for c in text) < 7:  # no phone number is shorter: skip the matcher
        return
    seen: set[tuple[int, int]] = set()
    for region in regions or [None]:
        for m in phonenumbers.PhoneNumberMatcher(text, region, phonenumbers.Leniency.VALID):
            if (m.start, m.end) not in seen:
                seen.add((m.start, m.end))
                yield PiiSpan("phone", m.start, m.end)


# Checked in this order; a later span overlapping an earlier one is dropped (an IBAN's digits
# are not also a phone number).
_DETECTORS: list[tuple[str, Callable[[str], Iterator[PiiSpan]]]] = [
    ("email", _emails),
    ("upi", _upis),
    ("iban", _ibans),
    ("card", _cards),
    ("aadhaar", _aadhaars),
    ("pan", _pans),
    ("ssn", _ssns),
    ("account", _accounts),
]


def find_pii(text: str, cfg: PiiGuardConfig) -> list[PiiSpan]:
    """Every personal value of the configured kinds in `text`, by position, without overlaps."""
    kinds = set(cfg.kinds)
    found: list[PiiSpan] = []

    def free(span: PiiSpan) -> bool:
        return all(span.end <= f.start or span.start >= f.end for f in found)

    for kind, detect in _DETECTORS:
        if kind in kinds:
            found += [s for s in detect(text) if free(s)]
    if "phone" in kinds:
        found += [s for s in _phones(text, cfg.phone_regions) if free(s)]
    return sorted(found, key=lambda s: s.start)


def redact(text: str, spans: list[PiiSpan]) -> str:
    """Replace every span with its kind's placeholder, e.g. `[EMAIL]`."""
    out, last = [], 0
    for s in sorted(spans, key=lambda s: s.start):
        out += [text[last : s.start], PLACEHOLDERS[s.kind]]
        last = s.end
    out.append(text[last:])
    return "".join(out)


def check(text: str, cfg: PiiGuardConfig) -> tuple[str, list[Finding]]:
    """Redacted text and one finding per value found (action from the config)."""
    spans = find_pii(text, cfg)
    action = Action.BLOCK if cfg.action == "block" else Action.REDACT
    findings = [Finding(GUARD, f"pii.{s.kind}", action, s.start, s.end) for s in spans]
    return redact(text, spans), findings
