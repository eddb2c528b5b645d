"""query_classifier: ordered cue rules; the first category whose cues fire wins.

The order settles overlaps (docs/reference-teacher.md): a definition cue ("what does X mean")
beats everything; "why" beats "how many"; "how many" beats "expected"; an explicit comparison
beats a trend; a ranking ("top 5") beats a threshold ("above 20%"); strong trend words beat
rankings; a bare multi-period span makes a trend, a future period a forecast; else LOOKUP.
"""

from __future__ import annotations

import re
from datetime import date

from mkd.teachers.reference.gazetteer import Span

# Frequent typos and chat spellings, normalised before the cue rules run.
_TYPOS = {
    r"\bwat\b": "what",
    r"\bwhats\b": "what is",
    r"\bhw\b": "how",
    r"\bmnay\b": "many",
    r"\bmany\b": "many",
    r"\bcompre\b": "compare",
    r"\bvs\.": "vs",
}


def _rx(*patterns: str) -> re.Pattern:
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.I)


DEFINITION_STRONG = _rx(
    r"\bwhat\s+(?:does|do)\b.*\b(?:mean|stand\s+for)\b",
    r"\bmeaning\s+of\b",
    r"^\s*define\b",
    r"\bdefinition\s+of\b",
    r"\bhow\s+(?:is|are)\s+(?:an?\s+|the\s+)?[\w/&\s-]+\s+(?:calculated|computed|measured|derived|different)\b",
    r"\bhow\s+(?:do|can)\s+(?:you|i|we)\s+(?:calculate|compute|measure)\b",
    r"\bexplain\s+the\s+term\b",
    r"^\s*what\s+is\s+the\s+difference\s+between\b",
    r"^\s*how\s+is\s+a\s+fiscal\s+year\b",
)
EXPLAIN = _rx(
    r"\bwhy\b",
    r"\breasons?\s+(?:for|behind|why)\b",
    r"\bwhat\s+(?:caused|causes|drove|drives|led\s+to|leads\s+to|explains|is\s+behind|are\s+the\s+reasons)\b",
    r"\bwhat\s+factors\b",
    r"\bdrivers?\s+(?:of|behind)\b",
    r"\bhow\s+come\b",
    r"^\s*explain\s+(?:why|how|the\s+(?:fall|rise|drop|decline|jump|surge|increase|decrease|slowdown))\b",
    r"\bwhat'?s\s+behind\b",
)
_MONEY_UNITS = r"(?:bucks|dollars|rupees|euros|pounds|yen|yuan|crores?|lakhs?|millions|billions)"
COUNT = _rx(
    rf"\bhow\s+many\b(?!\s+{_MONEY_UNITS}\b)",
    r"\bnumber\s+of\b",
    r"\bcount\s+(?:of|the)\b",
    r"^\s*count\b",
)
FORECAST = _rx(
    r"\bexpect(?:ed|s|ing|ation|ations)?\b",
    r"\bforecasts?\b",
    r"\bproject(?:ed|ion|ions|s)?\b",
    r"\bpredict(?:ed|ing|ion|ions|s)?\b",
    r"\boutlook\b",
    r"\bguid(?:ance|ing|ed)\b",
    r"\bestimat(?:e|es|ed)\b",
    r"\bconsensus\b",
    r"\bprice\s+target\b",
    r"\bwill\b",
    r"\bgoing\s+to\b",
)
AGGREGATE = _rx(
    r"(?<!by\s)\btotal\b",
    r"\bcombined\b(?!\s+ratio\b)",  # the insurers' combined ratio is a metric
    r"\bsum\s+of\b",
    r"\baggregate\b",
    r"\baverage\b",
    r"\bavg\b",
    r"\bmean\b",
    r"\bmedian\b",
    r"(?<!market\s)\bshare\s+of\b",
    r"\bwhat\s+(?:share|percentage|proportion|fraction|percent)\b",
    r"\bproportion\s+of\b",
    r"\bpercentage\s+of\b",
)
COMPARE = _rx(
    r"\bcompar(?:e|ed|es|ing|ison)\b",
    r"\bvs\b",
    r"\bversus\b",
    r"\brelative\s+to\b",
    r"\bdifference\s+between\b",
    r"\bstack(?:s|ed)?\s+up\b",
    r"\bwhich\s+(?:is|was|had|has|have|one)\b.*\b(?:higher|bigger|larger|more|better|lower|smaller|less|faster|greater)\b.*\bor\b",
    r"\bor\b.*\bwhich\s+(?:is|was|had|has|have)\b",
)
TREND_STRONG = _rx(
    r"\btrends?\b",
    r"\btrended\b",
    r"\btrajectory\b",
    r"\bevolution\b",
    r"\bevolved?\b",
    r"\bhow\s+(?:has|have|did|had)\b.*\b(?:changed?|moved?|grown|grow|evolved?|performed|perform|trended|developed|shifted|fared)\b",
    r"\bbeen\s+(?:growing|rising|falling|declining|increasing|decreasing)\b",
    r"\bover\s+time\b",
    r"\bgrowth\s+(?:in|of)\b.*\b(?:over|since|between|from)\b",
)
LIST = _rx(
    r"\btop\s+(?:\d+|ten|five|three|twenty|performing|gainers|losers)\b",
    r"\bbottom\s+(?:\d+|ten|five|three)\b",
    r"\brank(?:ed|ing|s)?\b",
    r"\b(?:largest|biggest|highest|lowest|smallest|most\s+valuable|most\s+funded|best[-\s]performing|worst[-\s]performing|leading|top)\b",
    r"\bthe\s+most\b",
    r"\bgainers\b",
    r"\blosers\b",
)
SCREEN = _rx(
    r"\b(?:more|greater|less|fewer|higher|lower)\s+than\b",
    r"\b(?:above|below|over|under|exceeding|at\s+least|at\s+most|between)\s*[₹$€£¥]?\s*(?:rs\.?\s*)?\d",
    r"\b(?:above|below|under)\s+(?:zero|book\s+value)\b",
    r"\bwith\s+(?:positive|negative|zero|no)\b",
    r"\b(?:companies|startups|stocks|banks|firms|fintechs|makers|unicorns|cos|brands|reits|nbfcs|insurers|retailers|lenders)\s+(?:that|which|with|having|valued|yielding|trading|raising)\b",
    r"\bvalued\s+at\b",
    r"\b(?:that|which|who)\s+(?:turned|became|have|are|were|reported|posted|crossed)\b",
)
DEFINITION_WEAK = _rx(
    r"^\s*(?:what|wat)\s+(?:is|are|'s)\s+(?:an?\s+|the\s+)?",
    r"^\s*what's\s+(?:an?\s+)?",
    r"^\s*explain\b",
)


# A conversational lead-in does not change what is asked ("Quick question: what is EBITDA?" is
# a DEFINITION like "What is EBITDA?"), but it hides the question word from the rules anchored at
# the start, so it is cut first. "Can you explain X" keeps its verb: the rules read "explain".
_LEAD_IN = re.compile(
    r"^\s*(?:"
    r"(?:can|could|would)\s+you\s+(?:please\s+)?(?:tell|show|give)\s+me"
    r"|(?:can|could|would)\s+you\s+(?:please\s+)?(?=(?:explain|define)\b)"
    r"|quick\s+question\b|i\s+(?:need|want)(?:\s+to\s+know)?|(?:please|pls|plz)\s+(?:show|tell|give)(?:\s+me)?"
    r"|help\s+me\s+(?:find|understand)|looking\s+for|tell\s+me"
    r")\b[\s,:;-]*",
    re.I,
)


def _normalise(text: str) -> str:
    out = text
    for pattern, repl in _TYPOS.items():
        out = re.sub(pattern, repl, out, flags=re.I)
    return _LEAD_IN.sub("", out.replace("’", "'"), count=1)


def classify(text: str, entities: list[Span], dates: list[dict], as_of: date) -> str:
    """The query_classifier category for `text`, given its entities and resolved dates."""
    q = _normalise(text)
    named = [s for s in entities if s.type in ("COMPANY", "GEOGRAPHY")]
    ordered = [
        ("DEFINITION", DEFINITION_STRONG.search(q) and not any(s.type == "COMPANY" for s in named)),
        ("EXPLAIN", EXPLAIN.search(q)),
        ("COUNT", COUNT.search(q)),
        ("FORECAST", FORECAST.search(q)),
        (
            "COMPARE",
            COMPARE.search(q) or _two_named_with_or(q, entities) or _than_named(q, entities),
        ),
        ("AGGREGATE", AGGREGATE.search(q)),
        ("TREND", TREND_STRONG.search(q)),
        ("LIST", LIST.search(q)),
        ("SCREEN", SCREEN.search(q)),
        ("TREND", any(_is_span(d) for d in dates)),
        ("FORECAST", dates and all(_is_future(d, as_of) for d in dates)),
        ("DEFINITION", DEFINITION_WEAK.search(q) and not named and not dates),
    ]
    return next((category for category, fired in ordered if fired), "LOOKUP")


def _two_named_with_or(q: str, entities: list[Span]) -> bool:
    companies = [s for s in entities if s.type == "COMPANY"]
    return len(companies) >= 2 and bool(re.search(r"\bor\b", q, re.I))


_THAN = re.compile(
    r"\b(?:higher|lower|more|less|bigger|larger|smaller|better|worse|greater|faster|slower)\s+than\s+",
    re.I,
)


def _than_named(q: str, entities: list[Span]) -> bool:
    """A comparative whose other side is a company ("is Shopify's margin higher than Adyen's?"),
    not a threshold (which makes a SCREEN)."""
    return any(
        s.type == "COMPANY" and s.start == m.end() for m in _THAN.finditer(q) for s in entities
    )


def _is_span(item: dict) -> bool:
    """A range over several units (2020-2025, last 5 years, since 2023), not a single period."""
    start, end = item.get("start"), item.get("end")
    if start is None or end is None:
        return start is not None  # "since X" is open-ended: a span; "before X" is not
    days = (date.fromisoformat(end) - date.fromisoformat(start)).days
    return days > 370


def _is_future(item: dict, as_of: date) -> bool:
    start = item.get("start")
    return start is not None and date.fromisoformat(start) > as_of
