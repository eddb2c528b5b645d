"""ReferenceLabeler: the four finance tasks answered by rules over the pack's gazetteers."""

from __future__ import annotations

import logging
import unicodedata
from datetime import date
from typing import Any

from mkd.tasks.pack import TaskPack
from mkd.teachers.reference.classifier import classify
from mkd.teachers.reference.currency import NONE, identify_currency
from mkd.teachers.reference.dates import interpret_dates
from mkd.teachers.reference.entities import extract_entities, metric_spans
from mkd.teachers.reference.gazetteer import Gazetteer, load_gazetteer

log = logging.getLogger(__name__)

# Queries are short; a pathological 100 KB input is cut so the rules stay fast and bounded.
MAX_CHARS = 4000
GAZETTEER_FILE = "data/gazetteers.yaml"

EMPTY_ANSWERS: dict[str, Any] = {
    "query_classifier": {"category": "LOOKUP"},
    "entity_extractor": [],
    "currency_identifier": NONE,
    "date_interpretation": [],
}


def clean_text(text: Any) -> str:
    """Text the rules can read: str, NFC, no control characters, at most MAX_CHARS."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    if not isinstance(text, str):
        return ""
    text = unicodedata.normalize("NFC", text[: MAX_CHARS * 2])[:MAX_CHARS]
    return "".join(" " if unicodedata.category(c)[0] == "C" else c for c in text)


class ReferenceLabeler:
    """Deterministic, offline labeler for the finance pack (rules + gazetteers).

    Args:
        pack: the finance task pack (its gazetteers, conventions, as_of and fiscal year).
    """

    def __init__(self, pack: TaskPack) -> None:
        self.pack = pack
        self.gazetteer: Gazetteer = load_gazetteer(str(pack.data_file(GAZETTEER_FILE)))

    def as_of(self, context: dict | None) -> date:
        """The context's as_of, or the pack's default when missing or not an ISO date."""
        raw = context.get("as_of") if isinstance(context, dict) else None
        try:
            return date.fromisoformat(str(raw))
        except (TypeError, ValueError):
            return date.fromisoformat(self.pack.default_as_of)

    def predict(self, task: str, text: str, context: dict | None = None) -> Any:
        """The parsed, schema-valid answer for `task` on `text`.

        Odd input (empty, huge, not a string, strange unicode) gets the task's empty answer
        rather than an exception. Raises KeyError only for a task the pack does not have.
        """
        spec = self.pack.task(task)
        empty = EMPTY_ANSWERS[task]
        try:
            value = self._answer(task, clean_text(text), context)
        except Exception:  # a rule bug must not sink a labeling job; log it and stay neutral
            log.exception("reference labeler failed on task %s", task)
            return _copy(empty)
        if spec.schema_errors(value):
            log.error("reference labeler produced a schema-invalid %s answer: %r", task, value)
            return _copy(empty)
        return value

    def _answer(self, task: str, text: str, context: dict | None) -> Any:
        if not text.strip():
            return _copy(EMPTY_ANSWERS[task])
        if task == "entity_extractor":
            return extract_entities(self.gazetteer, text)
        dates = self._dates(text, context)
        if task == "date_interpretation":
            return dates
        spans = metric_spans(self.gazetteer, text)
        category = classify(text, spans, dates, self.as_of(context))
        if task == "currency_identifier":
            definition = category == "DEFINITION"
            return identify_currency(self.gazetteer, text, definition, entities=spans)
        return {"category": category}

    def _dates(self, text: str, context: dict | None) -> list[dict[str, Any]]:
        return interpret_dates(
            text, self.as_of(context), self.pack.fiscal_year_start_month, self.pack.conventions
        )


def _copy(value: Any) -> Any:
    return {**value} if isinstance(value, dict) else list(value)
