"""Open-vocabulary entity candidates: names the gazetteer does not list.

A large teacher recognises `3M`, `Atlassian`, `working capital` or `gold miners` without a list;
these rules approximate that with patterns over the query's tokens:

- COMPANY: runs of capitalised tokens (`Palo Alto Networks`, `Estée Lauder`, `3M`), tickers
  (`PANW`), and a sentence-initial name followed by a possessive, `vs` or a metric
  (`Block gross profit`, `crowdstrike annual recurring revenue`);
- METRIC: noun phrases headed by a finance noun (`restructuring costs`, `working capital days`,
  `interest coverage ratio`), ratio shapes (`EV/EBITDA`, `debt-to-EBITDA`), defining qualifiers
  on a known metric (`same-store sales`, `net revenues`), well-known metric acronyms (`DPO`);
- SECTOR: industry words before a generic head (`cybersecurity companies`) and industry
  nouns (`gold miners`, `auto suppliers`, `shipbuilders`).

The gazetteer's spans are the boost: they decide the type of the words they cover, and a
candidate here wins only by being longer (resolve_overlaps), so known names keep their labels.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from mkd.teachers.reference.gazetteer import Gazetteer, Span

# A token: letters, digits and the joiners names and metrics use (R&D, all-in, EV/EBITDA, JD.com).
_TOKEN = re.compile(r"[^\W_][\w&/.'’-]*", re.UNICODE)
_POSSESSIVE = re.compile(r"['’]s?$")
_TIME_TOKEN = re.compile(
    r"^(?:Q[1-4]|H[12]|[12]H\d{2}|FY\d*|CY\d*|\d+|\d{4}s|(?-i:\d+(?:k|m|mn|bn))|"
    r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t|tember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?|"
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|covid(?:-19)?|"
    r"(?:pre|post)-covid|pandemic)$",
    re.I,
)


def _words(text: str) -> frozenset[str]:
    """A word list written as prose, one set."""
    return frozenset(text.split())


# Words that are never part of a name, a metric or a sector: function words, question words,
# verbs of the ask, rankings, aggregation and frequency words (the spec leaves these out).
STOP = _words(
    """a an the of for in on at by to from with without into onto about as per via and or nor
    but vs versus than then so if is are was were be been being am do does did done has have
    had having will would can could should may might must shall what which who whom whose why
    how when where whats its it their there they them this that these those our your my me i
    we you he she his her all any each every some many much more most less least few several
    other others such same own only also just very not no yes top bottom largest biggest
    smallest highest lowest best worst leading major big small large high low higher lower
    bigger smaller better worse greater above below over under between since after before
    until through during within across total average avg sum combined aggregate mean median
    overall yoy qoq mom quarterly monthly annual annually yearly weekly daily year years quarter
    quarters month months week weeks day today yesterday ytd ttm ltm last next past this
    recent recently latest record negative positive strong weak rank ranked ranking compare
    compared define explain show list give tell find get report reported reporting post posted
    posting expected expect expecting estimated estimate estimates projected projection
    forecast forecasts predicted analyst analysts consensus trend trends trending change
    changed changes grow grew grown growing rise rose fall fell drop dropped jump jumped
    decline declined make made turn turned see seen go went lose lost gain
    gained pay paid paying much number count share global listed unlisted public profitable
    loss-making new old penny value blue-chip meme small-cap mid-cap large-cap smallcap
    midcap largecap momentum defensive cyclical quality dividend-paying"""
)
# Capitalised words that start or sit in a query without being a company.
STOP_CAPS = _words(
    """ipo ipos ceo cfo coo fda rbi ecb fed sec sebi fomc boj pboc imf upi etf etfs spac spacs vc
    pe m&a gdp cpi eps esg ai ml api usa q&a faq fortune series seed round pre-ipo tam sam som
    note please funded backed valued owned based focused mtd qtd wtd isin iban pan kyc ssn uid
    itr sip ira nri f&o d2c b2b b2c otc json api forecasts evolution reasons reason growth sales revenue companies company
    stocks stock firms firm startups startup unicorns unicorn decacorns sector sectors
    industry banks"""
)
# Generic heads after an industry word: the industry word is the sector, the head is dropped.
GENERIC_HEADS = _words(
    """companies company stocks stock firms firm startups startup cos names midcaps players
    giants operators providers businesses groups sector sectors industry industries space"""
)
# Industry nouns that are the sector together with their modifiers (`gold miners`);
# the first set may also stand alone.
SECTOR_NOUNS_ALONE = _words(
    """miners utilities shipbuilders homebuilders hyperscalers refiners brewers distillers
    automakers chipmakers insurers reinsurers lenders banks airlines retailers"""
)
SECTOR_NOUNS = SECTOR_NOUNS_ALONE | _words(
    """suppliers designers builders producers manufacturers makers developers services houses
    carriers chains"""
)
# Finance head nouns: a noun phrase ending in one of these is a metric (with >= 1 modifier).
METRIC_HEADS_MONEY = _words(
    """costs cost charges charge expenses expense capital income impairment impairments
    writedown writedowns write-down write-downs provisions reserves assets liabilities
    inflows outflows intake proceeds fees"""
)
METRIC_HEADS_OTHER = _words(
    """ratio ratios days cycle rate coverage production output count spread spreads turnover
    retention utilization utilisation occupancy"""
)
# Metric nouns that are a metric on their own.
METRIC_NOUNS_MONEY = _words("billings bookings opex payables receivables royalties")
# Well-known metric acronyms: a closed class (unlike company names), so a list is the rule.
METRIC_ACRONYMS_MONEY = _words(
    """AISC ARPU ARPA AOV ACV TCV LTV CAC NOPAT NII FFO AFFO NAV BVPS OCF FCFE FCFF COGS SG&A
    OPEX EBITDAR TBV"""
)
METRIC_ACRONYMS_OTHER = _words(
    """DPO DSO DIO CCC WACC ROA ROIC ROTE RoTE ROIIC NPL LCR NSFR TSR CASM RASM RevPAR ADR GRR
    LTV/CAC IRR MOIC DSCR NNPA"""
)
# Defining qualifiers that extend a known metric to the left (`net revenues`, `same-store sales`).
QUALIFIERS = _words(
    """net gross adjusted diluted basic operating organic underlying core comparable same-store
    like-for-like pre-tax after-tax recurring non-gaap gaap reported deferred unearned"""
)
# Acronym modifiers inside a metric phrase (`LNG production`, `SG&A expenses`).
ACRONYM_MODIFIERS = _words("LNG LPG NGL R&D SG&A GAAP IFRS")
# Line-item names that keep an aggregation word (spec: `total assets`, `total deposits`).
_LINE_ITEM = re.compile(
    r"(?<![\w])(?:total\s+(?:assets|deposits|liabilities|debt|equity|loans)|combined\s+ratio)"
    r"(?![\w])",
    re.I,
)
_SPECIAL_METRIC = re.compile(
    r"(?<![\w])(?:days\s+(?:sales|payables?|inventory|receivables?)\s+outstanding|"
    r"days\s+of\s+(?:inventory|sales|payables?)|"
    r"cost\s+of\s+(?:goods\s+sold|revenues?|sales|capital|funds|risk|debt|equity)|"
    r"(?:provisions?|allowances?)\s+for\s+(?:credit|loan)\s+losses)(?![\w])",
    re.I,
)
# `EV/EBITDA`, `debt/EBITDA`, `P/B`, `debt-to-EBITDA`, `loan-to-deposit`, `price-to-book`.
_RATIO = re.compile(r"(?<![\w/])([A-Za-z&]+)(/|-to-)([A-Za-z&]+)(?![\w/])")
_RATIO_WORDS = _words(
    """debt equity loan loans deposit deposits price book sales earnings assets capital cash
    value enterprise revenue income cost"""
)
_RATIO_TAIL = re.compile(r"\s+(?:ratio|multiple)(?![\w])", re.I)


@dataclass(frozen=True)
class Token:
    """One word of the query: where it is and its text with any possessive removed."""

    start: int
    end: int
    text: str
    possessive: bool

    @property
    def low(self) -> str:
        return self.text.casefold()


def tokenize(text: str) -> list[Token]:
    """Words with trailing dots and possessives stripped (`Adyen's` -> `Adyen`)."""
    tokens = []
    for m in _TOKEN.finditer(text):
        word = m.group(0).rstrip(".")
        possessive = bool(_POSSESSIVE.search(word)) and len(word) > 2
        if possessive:
            word = _POSSESSIVE.sub("", word)
        if word:
            tokens.append(Token(m.start(), m.start() + len(word), word, possessive))
    return tokens


def _span(text: str, start: int, end: int, kind: str, **entry: object) -> Span:
    return Span(start, end, text[start:end], kind, {"open": True, **entry})


class _Coverage:
    """Which gazetteer type covers each token (None when no gazetteer name does)."""

    def __init__(self, tokens: list[Token], spans: list[Span], extra: list[Span]) -> None:
        self.types: list[str | None] = []
        for tok in tokens:
            hit = next((s for s in spans if s.start <= tok.start and tok.end <= s.end), None)
            other = any(s.start < tok.end and tok.start < s.end for s in extra)
            self.types.append(hit.type if hit else ("OTHER" if other else None))

    def __getitem__(self, i: int) -> str | None:
        return self.types[i]


def open_spans(gazetteer: Gazetteer, text: str, known: list[Span]) -> list[Span]:
    """Open-vocabulary candidates for `text`, given the gazetteer's own spans `known`."""
    tokens = tokenize(text)
    if not tokens:
        return []
    # Market names, currency terms and currency signs are never companies or metrics.
    signs = _currency_tokens(gazetteer)
    terms = gazetteer.currency_term_spans(text)
    terms += [
        Span(t.start, t.end, t.text, "OTHER", {})
        for k, t in enumerate(tokens)
        if t.low in signs and not _starts_title_pair(text, tokens, k)
    ]
    cover = _Coverage(tokens, known, terms)
    spans = _metric_candidates(text, tokens, cover, known, signs)
    spans += _sector_candidates(text, tokens, cover)
    # A word inside a metric or sector candidate ("EV/EBITDA", "Gold miners") is not a name.
    cover_all = _Coverage(tokens, known + spans, terms)
    spans += _company_candidates(text, tokens, cover_all, known + spans)
    return spans


def _is_title(tok: Token) -> bool:
    return tok.text[:1].isupper() and tok.text[1:].islower() and tok.text.isalpha()


def _starts_title_pair(text: str, tokens: list[Token], k: int) -> bool:
    """`Dollar General`, `Best Buy`: a title-case word joined to a title-case non-stop word is
    the start of a name, even when alone it would be a currency word or a stop word."""
    if k + 1 >= len(tokens) or not (_is_title(tokens[k]) and _is_title(tokens[k + 1])):
        return False
    nxt = tokens[k + 1]
    return _joined(text, tokens, k) and nxt.low not in STOP and nxt.low not in STOP_CAPS


def _currency_tokens(gazetteer: Gazetteer) -> frozenset[str]:
    """Currency codes, signs and words (`Rs`, `USD`, `yen`), case-folded."""
    out: set[str] = set()
    for code, cur in gazetteer.currencies.items():
        out |= {
            code.casefold(),
            *(w.casefold() for w in cur.get("symbols", []) + cur.get("words", [])),
        }
    return frozenset(out)


# ----------------------------------------------------------------------------- metrics


def _is_modifier(tok: Token, kind: str | None) -> bool:
    """A word that may define a metric: lowercase content word, or a known acronym modifier."""
    if kind in ("COMPANY", "GEOGRAPHY", "SECTOR", "OTHER") or _TIME_TOKEN.match(tok.text):
        return False
    if tok.text in ACRONYM_MODIFIERS:
        return True
    return tok.text == tok.low and tok.low not in STOP and any(c.isalpha() for c in tok.text)


def _metric_candidates(text, tokens, cover, known: list[Span], signs: frozenset[str]):
    spans = [
        _span(text, m.start(), m.end(), "METRIC", monetary="ratio" not in m.group(0).lower())
        for m in _LINE_ITEM.finditer(text)
    ]
    spans += [
        _span(
            text, m.start(), m.end(), "METRIC", monetary=not m.group(0).lower().startswith("days")
        )
        for m in _SPECIAL_METRIC.finditer(text)
    ]
    spans += _ratio_candidates(text, signs)
    for i, tok in enumerate(tokens):
        acronym = tok.text[:-1] if _plural_acronym(tok.text) else tok.text  # "NPLs"
        if acronym in METRIC_ACRONYMS_MONEY or acronym in METRIC_ACRONYMS_OTHER:
            money = acronym in METRIC_ACRONYMS_MONEY
            spans.append(_span(text, tok.start, tok.end, "METRIC", monetary=money))
        elif tok.low in METRIC_NOUNS_MONEY and cover[i] is None:
            spans.append(_headed_metric(text, tokens, cover, i, monetary=True, alone=True))
        elif tok.low in METRIC_HEADS_MONEY or tok.low in METRIC_HEADS_OTHER:
            if not (tok.low == "days" and i and tokens[i - 1].text.isdigit()):  # "past 90 days"
                money = tok.low in METRIC_HEADS_MONEY
                spans.append(_headed_metric(text, tokens, cover, i, monetary=money, alone=False))
        elif tok.low == "growth" and i and cover[i - 1] is None:
            # "user growth", "loan growth": one noun (a known metric's growth is merged later;
            # "cloud revenue growth" stays revenue growth, segments are not part of a metric)
            spans.append(
                _headed_metric(text, tokens, cover, i, monetary=False, alone=False, most=1)
            )
    spans += _qualified_known(text, tokens, cover, known)
    spans += _metric_to_metric(text, known)
    return [s for s in spans if s is not None]


def _metric_to_metric(text: str, known: list[Span]) -> list[Span]:
    """`net debt to EBITDA`, `price to book`: two metrics joined by `to` are one ratio."""
    metrics = [s for s in known if s.type == "METRIC"]
    out = []
    for left, right in itertools.pairwise(metrics):
        if re.fullmatch(r"\s+to\s+", text[left.end : right.start]):
            out.append(_span(text, left.start, right.end, "METRIC", monetary=False))
    return out


def _plural_acronym(word: str) -> bool:
    """`NPLs`, `IPOs`, `SPACs`: a plural acronym, never a ticker."""
    return len(word) > 2 and word.endswith("s") and word[:-1].isupper()


def _headed_metric(
    text, tokens, cover, i, monetary: bool, alone: bool, most: int = 3
) -> Span | None:
    """The head noun with up to `most` modifiers before it (`all-in sustaining costs`)."""
    first = i
    while first > 0 and i - first < most and _is_modifier(tokens[first - 1], cover[first - 1]):
        if tokens[first - 1].possessive or not _joined(text, tokens, first - 1):
            break
        first -= 1
    if first == i and not alone:
        return None
    return _span(text, tokens[first].start, tokens[i].end, "METRIC", monetary=monetary)


def _qualified_known(text, tokens, cover, known: list[Span]) -> list[Span]:
    """Known metrics with defining qualifiers before them, or `margin`/`ratio` after them."""
    out = []
    for span in known:
        if span.type != "METRIC":
            continue
        start, end, money = span.start, span.end, bool(span.entry.get("monetary"))
        idx = next((k for k, t in enumerate(tokens) if t.start == span.start), None)
        while idx and tokens[idx - 1].low in QUALIFIERS and cover[idx - 1] is None:
            idx -= 1
            start = tokens[idx].start
        tail = re.match(r"\s+(margins?|ratio)(?![\w])", text[end:], re.I)
        if tail and money:  # "free cash flow margin": a share, not an amount
            end, money = end + tail.end(), False
        if (start, end) != (span.start, span.end):
            out.append(_span(text, start, end, "METRIC", monetary=money))
    return out


def _ratio_candidates(text: str, signs: frozenset[str]) -> list[Span]:
    """`EV/EBITDA`, `debt-to-EBITDA`, `P/B ratio`: one side an acronym or a balance-sheet word."""
    out = []
    for m in _RATIO.finditer(text):
        left, right = m.group(1), m.group(3)
        if left.lower() in ("year", "month", "quarter", "week", "and", "back", "peer", "direct"):
            continue
        if left.casefold() in signs or right.casefold() in signs:  # USD/INR is an exchange rate
            continue
        acronym = any(side.isupper() and len(side) >= 1 for side in (left, right))
        if acronym or left.lower() in _RATIO_WORDS or right.lower() in _RATIO_WORDS:
            tail = _RATIO_TAIL.match(text, m.end())
            end = tail.end() if tail else m.end()
            out.append(_span(text, m.start(), end, "METRIC", monetary=False))
    return out


# ----------------------------------------------------------------------------- sectors


def _is_sector_word(tok: Token, kind: str | None, initial: bool) -> bool:
    """An industry word before a sector noun: lowercase content word (or a capitalised first
    word of the query, `Gold miners`), never a name, a metric or a time word."""
    if kind not in (None, "SECTOR") or _TIME_TOKEN.match(tok.text) or tok.possessive:
        return False
    word = tok.low
    if word in STOP or word in GENERIC_HEADS or not word.replace("-", "").isalpha():
        return False
    if re.search(r"-(?:led|backed|owned|based|focused|listed|funded|run|linked)$", word):
        return False  # "women-led startups": who runs them, not an industry
    return tok.text == word or initial or kind == "SECTOR"


def _sector_candidates(text: str, tokens: list[Token], cover: _Coverage) -> list[Span]:
    out = []
    for i, tok in enumerate(tokens):
        head = tok.low
        is_noun = head in SECTOR_NOUNS or head.endswith(("makers", "builders"))
        if not (is_noun or head in GENERIC_HEADS) or cover[i] not in (None, "SECTOR"):
            continue
        first = i
        while first > 0 and i - first < 2:
            if not _is_sector_word(tokens[first - 1], cover[first - 1], first - 1 == 0):
                break
            first -= 1
        if head in GENERIC_HEADS and cover[i - 1] == "SECTOR":
            continue  # "most funded AI startups": the known sector alone
        if head in GENERIC_HEADS or (head == "makers" and _known_sector_before(cover, first, i)):
            # "cybersecurity companies" -> cybersecurity; "EV makers" -> EV (the known sector)
            if first < i and any(cover[k] is None for k in range(first, i)):
                out.append(_span(text, tokens[first].start, tokens[i - 1].end, "SECTOR"))
        elif first < i or (cover[i] is None and _stands_alone(head)):
            out.append(_span(text, tokens[first].start, tok.end, "SECTOR"))
    return out


def _stands_alone(head: str) -> bool:
    """`miners`, `shipbuilders`: an industry noun that is a sector with no modifier."""
    return head in SECTOR_NOUNS_ALONE or head.endswith(("makers", "builders"))


def _known_sector_before(cover: _Coverage, first: int, i: int) -> bool:
    return first < i and all(cover[k] == "SECTOR" for k in range(first, i))


# ----------------------------------------------------------------------------- companies


def _name_token(tok: Token, kind: str | None) -> bool:
    """Part of a capitalised name: starts with a capital (or digits then a capital, `3M`)."""
    if kind == "OTHER" or _TIME_TOKEN.match(tok.text):
        return False
    if kind in ("METRIC", "SECTOR") and not _is_title(tok):  # "Realty Income" is a name
        return False
    if tok.low in STOP_CAPS or tok.text in METRIC_ACRONYMS_MONEY | METRIC_ACRONYMS_OTHER:
        return False
    if re.search(r"-[a-z]", tok.text) or len(tok.text) < 2:  # "US-listed", "Series B"
        return False
    if _plural_acronym(tok.text):
        return False
    head = tok.text.lstrip("0123456789")
    return bool(head) and head[0].isupper() and (head == tok.text or len(head) < len(tok.text))


def _company_candidates(text, tokens, cover, spans: list[Span]) -> list[Span]:
    out: list[Span] = []
    i = 0
    while i < len(tokens):
        after_sign = tokens[i].start and text[tokens[i].start - 1] in "$€£¥₹"  # "$3B", not 3M
        stop = tokens[i].low in STOP and not (i and _starts_title_pair(text, tokens, i))
        if after_sign or not _name_token(tokens[i], cover[i]) or stop:
            i += 1
            continue
        j = i
        while j + 1 < len(tokens) and not tokens[j].possessive and _joined(text, tokens, j):
            if not _name_token(tokens[j + 1], cover[j + 1]) or tokens[j + 1].low in STOP:
                break
            j += 1
        out += _company_run(text, tokens, cover, spans, i, j)
        i = j + 1
    if tokens and tokens[0].text == tokens[0].low:
        out += _lowercase_first_name(text, tokens, cover, spans)
    return out


def _joined(text: str, tokens: list[Token], j: int) -> bool:
    """Adjacent in the text with only spaces between (a comma or a dash ends a name)."""
    return text[tokens[j].end : tokens[j + 1].start].strip() in ("", "&")


def _company_run(text, tokens, cover, spans, i: int, j: int) -> list[Span]:
    """A run of name tokens becomes a company unless the gazetteer explains all of it; a known
    company inside it splits it (`Amazon India` stays Amazon + India)."""
    run = list(range(i, j + 1))
    # A title-case sector or metric word inside a name is weak evidence against the name
    # ("Realty Income", "Siemens Energy", "Vertex Pharmaceuticals"); a known company or
    # geography, or a word written in its usual case, is strong ("Amazon India", "US SaaS").
    weak = [cover[k] in ("SECTOR", "METRIC") and _is_title(tokens[k]) for k in run]
    free = [cover[k] is None for k in run]
    has_company = any(cover[k] == "COMPANY" for k in run)
    if not (
        any(free) or (has_company and any(weak)) or (len(run) > 1 and all(weak[1:]) and free[0])
    ):
        return []
    initial = _initial(text, tokens[i])
    if initial and i < j and not any(free[1:]) and not any(weak[1:]):
        return []  # "Call Frankfurt ...": a capitalised verb before a known name
    if initial and i == j and not _looks_like_subject(text, tokens, cover, spans, j):
        return []  # a lone capitalised first word is usually an ordinary word ("Block" excepted)
    if i == j and tokens[i].text.isupper() and len(tokens[i].text) > 5:
        return []
    start, end = tokens[i].start, tokens[j].end
    return [_span(text, start, end, "COMPANY", **_home_hint(spans, start, end))]


def _home_hint(spans: list[Span], start: int, end: int) -> dict[str, object]:
    """What a name tells about its home: a known parent's country ("Siemens Energy", "Adani
    Ports") or a geography in it ("Coal India", "US Bancorp"), for the implied currency."""
    inside = [s for s in spans if start <= s.start and s.end <= end]
    parent = next((s for s in inside if s.type == "COMPANY" and "country" in s.entry), None)
    if parent:
        return {"country": parent.entry["country"]}
    place = next((s for s in inside if s.type == "GEOGRAPHY" and s.entry.get("currency")), None)
    return {"currency": place.entry["currency"]} if place else {}


def _initial(text: str, tok: Token) -> bool:
    """First word of the query or of a sentence in it (capitalised for grammar, not as a name)."""
    before = text[: tok.start].rstrip()
    return not before or before[-1] in ".!?:;\n"


def _looks_like_subject(text, tokens, cover, spans, j: int) -> bool:
    """A first word is a company when what follows is a possessive, a comparison or a metric."""
    if tokens[j].possessive or (len(tokens[j].text) <= 5 and tokens[j].text.isupper()):
        return True
    if j + 1 >= len(tokens):
        return False
    nxt = tokens[j + 1]
    if nxt.low in ("vs", "versus", "and", "or") or text[tokens[j].end : nxt.start].strip() == ",":
        return True
    return any(s.type == "METRIC" and s.start == nxt.start for s in spans) or (
        nxt.low in QUALIFIERS
    )


def _lowercase_first_name(text, tokens, cover, spans) -> list[Span]:
    """`crowdstrike annual recurring revenue`: an unknown lowercase first word before a metric."""
    tok = tokens[0]
    if cover[0] is not None or tok.low in STOP or tok.low in STOP_CAPS or len(tok.text) < 3:
        return []
    if not tok.text.replace("-", "").isalpha() or tok.low in QUALIFIERS or tok.low in GENERIC_HEADS:
        return []
    if any(s.start <= tok.start < s.end for s in spans):  # "inventory turnover": a modifier
        return []
    nxt = tokens[1] if len(tokens) > 1 else None
    follows_metric = nxt is not None and any(
        s.type == "METRIC" and s.start == nxt.start and s.start > tok.end for s in spans
    )
    if follows_metric or tok.possessive:
        return [_span(text, tok.start, tok.end, "COMPANY")]
    return []
