"""Fixtures for the teacher tests: a deterministic stand-in teacher and a server around it."""

from __future__ import annotations

import pytest
from mkd.teachers.base import LabelRequest, LabelResult

ANSWERS = {
    "query_classifier": lambda q: {"category": "COMPARE" if "compare" in q.lower() else "LOOKUP"},
    "entity_extractor": lambda q: [
        {"name": w, "type": "COMPANY"} for w in q.split() if w.istitle()
    ],
    "currency_identifier": lambda q: (
        {"currency": "INR", "symbol": "₹", "mention": "explicit"}
        if "₹" in q
        else {"currency": None, "symbol": None, "mention": "none"}
    ),
    "date_interpretation": lambda q: [],
}


class FakeTeacher:
    """Answers from simple rules; records every request it saw."""

    teacher_id = "fake:rules"

    def __init__(self) -> None:
        self.seen: list[LabelRequest] = []

    def label(self, batch: list[LabelRequest]) -> list[LabelResult]:
        self.seen.extend(batch)
        out = []
        for req in batch:
            if req.task not in ANSWERS:
                out.append(LabelResult(req.id, req.task, error=f"unknown task {req.task!r}"))
            else:
                out.append(LabelResult(req.id, req.task, output=ANSWERS[req.task](req.input)))
        return out


@pytest.fixture
def fake_teacher() -> FakeTeacher:
    return FakeTeacher()
