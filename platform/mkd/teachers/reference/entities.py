"""entity_extractor: gazetteer spans plus open-vocabulary candidates, as written.

"<metric> growth" is kept as one metric. Gazetteer names decide the words they cover; an
open-vocabulary candidate (open_vocab.py) wins only where it is longer, so an unknown company,
metric or sector is found without the gazetteer and a known one keeps its gazetteer label.
"""

from __future__ import annotations

import re
from dataclasses import replace
from functools import lru_cache

from mkd.teachers.reference.gazetteer import Gazetteer, Span, resolve_overlaps
from mkd.teachers.reference.open_vocab import open_spans

# "revenue growth", "EPS growth rate": the growth of a metric is itself the metric asked about.
_GROWTH_TAIL = re.compile(r"\s+growth(?:\s+rate)?(?![\w])", re.IGNORECASE)


def _with_growth(text: str, spans: list[Span]) -> list[Span]:
    extended = []
    for span in spans:
        tail = _GROWTH_TAIL.match(text, span.end) if span.type == "METRIC" else None
        if tail and span.entry.get("name") != "growth rate":
            entry = {**span.entry, "monetary": False}
            span = replace(span, end=tail.end(), text=text[span.start : tail.end()], entry=entry)
        extended.append(span)
    return resolve_overlaps(extended)


@lru_cache(maxsize=4096)
def metric_spans(gazetteer: Gazetteer, text: str) -> tuple[Span, ...]:
    """Gazetteer and open-vocabulary spans, longest first, growth tails merged (used by the
    currency and classifier rules too, cached because the four tasks of one query need them)."""
    known = gazetteer.entity_spans(text)
    merged = resolve_overlaps(known + open_spans(gazetteer, text, known))
    return tuple(_with_growth(text, merged))


def extract_entities(gazetteer: Gazetteer, text: str) -> list[dict[str, str]]:
    """[{"name", "type"}] in order of appearance, one per (case-folded name, type)."""
    seen: set[tuple[str, str]] = set()
    out: list[dict[str, str]] = []
    for span in metric_spans(gazetteer, text):
        name = " ".join(span.text.split())
        key = (name.casefold(), span.type)
        if key not in seen:
            seen.add(key)
            out.append({"name": name, "type": span.type})
    return out
