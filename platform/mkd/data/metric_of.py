"""The `metric_of` operator: "Apple's revenue" becomes "the revenue of Apple".

Curated prompts name the company first ("What was Apple's revenue in FY2023?"); held-out queries
often put the metric first ("What is the P/E ratio of Meesho?", "ARR for Zoho"). The entity
answer lists entities in the order the query names them, and a student that saw the company
first nearly always learns to close the list after a leading metric, dropping the company
(docs/training.md, "Metric before company"). This operator moves a possessive company behind its
metric, so both orders are in training; the entities themselves do not change.
"""

from __future__ import annotations

import random
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mkd.data.augment import _Lexicon

# The metric must end its noun phrase: "Apple's revenue growth" is a different metric, and
# "Apple's revenue guidance" would read "the revenue of Apple guidance".
_PHRASE_END = re.compile(
    r"\s*(?:$|[?.,!;:)\-–]|\d|\b(?:in|for|during|over|since|from|between|last|this|next|vs|"
    r"versus|and|or|compared|before|after|through|until|to|at|on|by|as|today|ytd|mtd|qtd|yoy|"
    r"qoq|ttm|q[1-4]|h[12]|fy\S*|please|asap)\b)",
    re.IGNORECASE,
)
# "Apple's revenue", "Infosys' margin" and the search-box form "reliance ebitda fy24".
_POSSESSIVE = re.compile(r"(?:'s|’s|'|’)?\s+")
_DETERMINER_BEFORE = re.compile(r"\b(?:the|a|an|its|their)\s+$", re.IGNORECASE)


def metric_of(text: str, rng: random.Random, lex: _Lexicon) -> str | None:
    """`<Company>'s <metric>` -> `the <metric> of <Company>` (or `for`); None when no such pair.

    A leading pair loses its article ("Apple's revenue in 2023" -> "revenue of Apple in 2023").
    """
    metrics = lex.find(text, lex.metric_words)
    companies = lex.find(text, lex.company_words)
    # "Amazon AWS operating income": a name right after another name is part of a longer one.
    ends = {m.end() for m in companies}
    pairs = []
    for company in companies:
        if company.start() - 1 in ends:
            continue
        mark = _POSSESSIVE.match(text, company.end())
        metric = next((m for m in metrics if mark and m.start() == mark.end()), None)
        if metric and _PHRASE_END.match(text, metric.end()):
            pairs.append((company, metric))
    if not pairs:
        return None
    company, metric = rng.choice(pairs)
    before = text[: company.start()]
    article = "" if not before.strip() or _DETERMINER_BEFORE.search(before) else "the "
    after = text[metric.end() :]
    preposition = "of" if rng.random() < 2 / 3 or re.match(r"\s*for\b", after) else "for"
    moved = f"{article}{metric.group(0)} {preposition} {company.group(0)}"
    return before + moved + after
