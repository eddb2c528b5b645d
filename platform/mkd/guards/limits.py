"""Size limits and Unicode clean-up: the first guard, run on the raw query.

Tricks that hide text from the other guards (or from a human reviewer) are undone here, so that
PII and injection detection see what the model would see:
- zero-width and other invisible format characters, soft hyphens: removed;
- C0/C1 control characters and ANSI escape sequences: removed;
- bidirectional overrides and isolates (RLO, LRI... "Trojan Source"): blocked or removed;
- Unicode tag characters (invisible "ASCII smuggling"): removed, their payload decoded into
  `Cleaned.hidden` for the injection guard;
- look-alike letters: Cyrillic/Greek letters inside Latin words, fullwidth and mathematical
  alphanumerics, enclosed letters: rewritten to plain Latin;
- runs of stacked combining marks ("Zalgo"): trimmed.
Benign normalisation (NFC, no-break spaces to spaces) changes the text without a finding.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from mkd.config.guards import LimitsGuardConfig
from mkd.guards.decision import Action, Finding

GUARD = "limits"

BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_SPACES = frozenset(
    "\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"
)
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
# Anything outside printable ASCII sends a text down the slow path; plain ASCII is checked by
# this pattern alone (control characters only).
_ASCII_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Three or more stacked combining marks from the diacritic blocks: "Zalgo" text, not a script.
_ZALGO = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]{3,}")

# Letters that render like Latin ones. Used inside words that also hold Latin letters (a real
# Russian or Greek word is left alone) and, for detection only, everywhere (`skeleton`).
CONFUSABLES = {
    **dict(zip("аеорсухіјѕԁһӏԛԝьѵ", "aeopcyxijsdhlqwbv", strict=True)),
    **dict(zip("АВЕКМНОРСТХУІЈЅԚԜ", "ABEKMHOPCTXYIJSQW", strict=True)),
    **dict(zip("αοριυνκχτ", "aopiuvkxt", strict=True)),
    **dict(zip("ΑΒΕΖΗΙΚΜΝΟΡΤΥΧ", "ABEZHIKMNOPTYX", strict=True)),
    **dict(zip("ıℓօսɡ", "iloug", strict=True)),
}


@dataclass
class Cleaned:
    """The query after clean-up: `text` to go on with, `skeleton` for pattern matching only."""

    text: str
    skeleton: str
    hidden: str = ""  # decoded tag-character payload, for the injection guard
    findings: list[Finding] = field(default_factory=list)


def check_size(raw: str, cfg: LimitsGuardConfig) -> Finding | None:
    """A block finding when the raw query is over a limit (checked before any other work)."""
    if len(raw) > cfg.max_chars:
        return Finding(GUARD, "limit.max_chars", Action.BLOCK)
    if len(raw.encode("utf-8", "surrogatepass")) > cfg.max_bytes:
        return Finding(GUARD, "limit.max_bytes", Action.BLOCK)
    return None


def _is_trick_compat(ch: str) -> bool:
    """Fullwidth, mathematical, enclosed letters and digits: compatibility forms used to evade."""
    cp = ord(ch)
    ranges = ((0xFF00, 0xFFEF), (0x1D400, 0x1D7FF), (0x2460, 0x24FF), (0x1F130, 0x1F189))
    if not any(lo <= cp <= hi for lo, hi in ranges):
        return False
    folded = unicodedata.normalize("NFKC", ch)
    return folded.isascii() and folded.isalnum()


def _strip_invisibles(text: str, cfg: LimitsGuardConfig, out: Cleaned) -> str:
    """Remove controls, format characters and tags; record what was removed."""
    kept: list[str] = []
    hidden: list[str] = []
    reasons: set[str] = set()
    for ch in text:
        cp = ord(ch)
        cat = unicodedata.category(ch)
        if ch in BIDI_CONTROLS:
            reasons.add("unicode.bidi")
            continue
        if 0xE0000 <= cp <= 0xE007F:  # tag characters
            if 0xE0020 <= cp <= 0xE007E and not (kept and kept[-1] == "\U0001f3f4"):
                hidden.append(chr(cp - 0xE0000))
            continue
        if cat == "Cc" and ch not in "\t\n\r":
            reasons.add("unicode.control")
            continue
        if cat == "Cf":
            reasons.add("unicode.zero_width")
            continue
        if ch in _SPACES:
            ch = " "
        kept.append(ch)
    text = "".join(kept)
    if _ZALGO.search(text):
        reasons.add("unicode.combining")
        text = _ZALGO.sub("", text)
    if hidden:
        reasons.add("unicode.zero_width")
        out.hidden = "".join(hidden)
    for reason in sorted(reasons):
        bidi_blocks = reason == "unicode.bidi" and cfg.bidi_action == "block"
        out.findings.append(Finding(GUARD, reason, Action.BLOCK if bidi_blocks else Action.REDACT))
    return text


_WORD = re.compile(r"[^\W\d_]+")


def _fix_confusables(text: str, out: Cleaned) -> str:
    """Rewrite look-alikes to Latin inside mixed-script words and compatibility forms."""
    changed = False

    def fix_word(m: re.Match) -> str:
        nonlocal changed
        word = m.group(0)
        if word.isascii() or not any(c.isascii() for c in word):
            return word
        fixed = "".join(CONFUSABLES.get(c, c) for c in word)
        changed = changed or fixed != word
        return fixed

    text = _WORD.sub(fix_word, text)
    if any(_is_trick_compat(c) for c in text):
        text = "".join(unicodedata.normalize("NFKC", c) if _is_trick_compat(c) else c for c in text)
        text = _WORD.sub(fix_word, text)  # a fullwidth word may now be mixed-script
        changed = True
    if changed:
        out.findings.append(Finding(GUARD, "unicode.confusable", Action.REDACT))
    return text


def skeleton(text: str) -> str:
    """Text for pattern matching only: every look-alike mapped, NFKC, case-folded, spaces collapsed."""
    mapped = "".join(CONFUSABLES.get(c, c) for c in text)
    return " ".join(unicodedata.normalize("NFKC", mapped).casefold().split())


def clean(raw: str, cfg: LimitsGuardConfig) -> Cleaned:
    """Undo the Unicode tricks in `raw` (see the module docstring); findings say which."""
    out = Cleaned(text=raw, skeleton="")
    text = _ANSI.sub("", raw)
    if text != raw:
        out.findings.append(Finding(GUARD, "unicode.control", Action.REDACT))
    if text.isascii():
        if _ASCII_CONTROL.search(text):
            text = _strip_invisibles(text, cfg, out)
    else:
        text = _strip_invisibles(unicodedata.normalize("NFC", text), cfg, out)
        if cfg.normalize_confusables:
            text = _fix_confusables(text, out)
    out.text = text
    out.skeleton = skeleton(text) if not text.isascii() else " ".join(text.casefold().split())
    _dedupe(out)
    return out


def _dedupe(out: Cleaned) -> None:
    seen: dict[str, Finding] = {}
    for f in out.findings:
        seen.setdefault(f.reason, f)
    out.findings = list(seen.values())
