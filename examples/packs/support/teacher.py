"""The support pack's reference teacher: deterministic rules, no network (plugins.reference_teacher).

Keyword rules decide category and priority, a money pattern the amount, a product list the
product, and the first double-quoted span the error (its quotation marks kept, so the JSON
answer carries escaped quotes).
"""

from __future__ import annotations

import re
import time
from typing import Any

from mkd.records import canonical_json
from mkd.teachers.base import LabelRequest, LabelResult, Usage

VERSION = "1.0"
CATEGORIES = [  # first match wins
    ("BILLING", ("refund", "charge", "invoice", "bill", "payment", "price", "paid")),
    ("SHIPPING", ("delivery", "package", "parcel", "shipping", "shipped", "order", "courier")),
    ("ACCOUNT", ("account", "password", "login", "log in", "email", "sign in", "two-factor")),
    ("TECHNICAL", ("error", "crash", "broken", "not working", "signal", "screen", "battery",
                   "update", "slow", "freez")),
]  # fmt: skip
PRIORITIES = [
    ("urgent", ("urgent", "asap", "immediately", "right now", "emergency")),
    ("high", ("twice", "not working", "broken", "crash", "refund", "lost", "never arrived")),
    ("low", ("how do i", "how can i", "question", "wondering", "where can i")),
]
URGENCY = {"low": 0.25, "medium": 0.5, "high": 0.75, "urgent": 1.0}
PRODUCTS = ["router", "app", "laptop", "phone", "subscription"]
MONEY = re.compile(
    r"(?:\$|€|£)\s?(\d+(?:\.\d{1,2})?)|(\d+(?:\.\d{1,2})?)\s?(?:dollars|euros|usd|eur)\b", re.I
)
QUOTE = re.compile(r'"[^"]{1,78}"')


def _first(text: str, table: list[tuple[str, tuple[str, ...]]], default: str) -> str:
    return next((name for name, words in table if any(w in text for w in words)), default)


def triage(text: str) -> dict[str, Any]:
    low = text.lower()
    priority = _first(low, PRIORITIES, "medium")
    answer: dict[str, Any] = {
        "category": _first(low, CATEGORIES, "OTHER"),
        "priority": priority,
        "urgency": URGENCY[priority],
    }
    if (m := MONEY.search(text)) and float(m.group(1) or m.group(2)) > 0:
        amount = float(m.group(1) or m.group(2))
        answer["amount"] = int(amount) if amount.is_integer() else amount
    return answer


def issue_details(text: str) -> dict[str, Any]:
    low = text.lower()
    product = next((p for p in PRODUCTS if re.search(rf"\b{p}s?\b", low)), None)
    answer: dict[str, Any] = {"product": product}
    if m := QUOTE.search(text):
        answer["error"] = m.group()
    return answer


RULES = {"ticket_triage": triage, "issue_details": issue_details}


class SupportTeacher:
    """A TeacherBackend answering with the rules above; usage estimated at ~4 characters a token."""

    def __init__(self, pack: Any) -> None:
        self.pack = pack
        self.teacher_id = f"support-reference/{VERSION}"

    def label(self, batch: list[LabelRequest]) -> list[LabelResult]:
        return [self._one(r) for r in batch]

    def _one(self, request: LabelRequest) -> LabelResult:
        started = time.perf_counter()
        rule = RULES.get(request.task)
        if rule is None:
            return LabelResult(request.id, request.task, error=f"unknown task {request.task!r}")
        output = rule(str(request.input))
        raw = canonical_json(output)
        usage = Usage(prompt_tokens=max(1, len(str(request.input)) // 4) + 200,
                      completion_tokens=max(1, len(raw) // 4))  # fmt: skip
        return LabelResult(request.id, request.task, raw=raw, output=output, usage=usage,
                           latency_s=time.perf_counter() - started)  # fmt: skip
