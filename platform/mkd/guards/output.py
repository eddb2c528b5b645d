"""Output guards: a model's answer is checked against the query before anyone uses it.

- schema validity (`output.schema`; an enum value outside the schema is `output.category`);
- entity names must occur in the query, as words (`output.entity_not_in_query`): a model
  that invents "Microsoft" for a query about Apple is caught, whatever it was trained on;
- date items: real calendar days (`output.date_invalid`), start <= end (`output.date_order`),
  the phrase found in the query (`output.phrase_not_in_query`);
- currency codes from ISO 4217 (`output.currency_unknown`);
- no personal data in any string of the answer (`output.pii`): the model only saw redacted
  text, so a number or address in its answer is invented or leaked.
The checks key on the output's shape (items with name/type, with start/end, a `currency`
field), so other packs with the same shapes get them too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from typing import Any

from mkd.config.guards import OutputGuardConfig, PiiGuardConfig
from mkd.guards.decision import Action, Finding
from mkd.guards.iso4217 import ISO_4217
from mkd.guards.pii import find_pii
from mkd.tasks.pack import TaskSpec

GUARD = "output"


def _norm(text: str) -> str:
    return " ".join(text.casefold().split())


def occurs_in(name: str, query: str) -> bool:
    """True when `name` is in `query` as whole words (case-folded, spaces collapsed)."""
    needle = _norm(name)
    if not needle:
        return False
    return re.search(rf"(?<!\w){re.escape(needle)}(?!\w)", _norm(query)) is not None


def _finding(reason: str) -> Finding:
    return Finding(GUARD, reason, Action.BLOCK)


def _schema(task: TaskSpec, value: Any, cfg: OutputGuardConfig) -> list[Finding]:
    errors = list(task.validator.iter_errors(value))
    enum_only = errors and all(e.validator == "enum" for e in errors)
    if enum_only and cfg.categories:
        return [_finding("output.category")]
    return [_finding("output.schema")] if errors else []


def _items(value: Any) -> list[dict]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _entities(value: Any, query: str) -> list[Finding]:
    names = [i["name"] for i in _items(value) if isinstance(i.get("name"), str)]
    return [_finding("output.entity_not_in_query") for n in names if not occurs_in(n, query)][:1]


def _parse_day(text: Any) -> date | bool | None:
    """The date, None for null, False when not a real YYYY-MM-DD day."""
    if text is None:
        return None
    try:
        return date.fromisoformat(text) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text) else False
    except (TypeError, ValueError):
        return False


def _dates(value: Any, query: str) -> list[Finding]:
    found: list[Finding] = []
    for item in _items(value):
        if "start" not in item and "end" not in item:
            continue
        start, end = _parse_day(item.get("start")), _parse_day(item.get("end"))
        if start is False or end is False:
            found.append(_finding("output.date_invalid"))
        elif start and end and start > end:
            found.append(_finding("output.date_order"))
        phrase = item.get("phrase")
        if isinstance(phrase, str) and not occurs_in(phrase, query):
            found.append(_finding("output.phrase_not_in_query"))
    return found


def _currency(value: Any) -> list[Finding]:
    code = value.get("currency") if isinstance(value, dict) else None
    if isinstance(code, str) and code not in ISO_4217:
        return [_finding("output.currency_unknown")]
    return []


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


_ANY_PII = PiiGuardConfig()


def check(task: TaskSpec, query: str, value: Any, cfg: OutputGuardConfig) -> list[Finding]:
    """Every output guard that `value` (the parsed answer to `query`) fails."""
    found = _schema(task, value, cfg)
    if found:
        return found  # the shape checks below assume a schema-valid value
    if cfg.entities_in_query and task.scorer == "entity_overlap":
        found += _entities(value, query)
    if cfg.dates:
        found += _dates(value, query)
    if cfg.currency:
        found += _currency(value)
    if cfg.pii and any(find_pii(s, _ANY_PII) for s in _strings(value)):
        found.append(_finding("output.pii"))
    return found
