"""The guard chain on the serving path: the same chain on every request, whoever answers.

- `guard_request`: the input verdict as the router acts on it: go on with the redacted text,
  answer with the task's empty form (out of domain), or refuse with a 4xx and the reason code;
- `guarded_answer` / `aguarded_answer`: try the answerers in order (student, teacher,
  fallback); the first answer that passes the output guards is served; when none does, the
  task's safe empty answer is. An answer that fails a guard never reaches the client.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from mkd.guards.chain import GuardChain
from mkd.guards.decision import Decision

Answerer = Callable[[str], Any] | Callable[[str], Awaitable[Any]]
SAFE_EMPTY = "safe_empty"


@dataclass(frozen=True)
class RequestVerdict:
    """What the router does with a request.

    Attributes:
        decision: the chain's input decision.
        text: the query to send to a model (redacted), when `proceed`.
        status: the HTTP status when not proceeding (200 with `answer` for out of domain).
        answer: the safe empty answer for an out-of-domain query.
        error: the error body for a refused request: {"code": reason, "message": ...}.
    """

    decision: Decision
    proceed: bool
    text: str | None = None
    status: int = 200
    answer: Any = None
    error: dict[str, Any] | None = None

    def guard_info(self) -> dict[str, Any]:
        """The `guard` field of a response: action and reason codes, never text."""
        return self.decision.as_dict()


def http_status(decision: Decision) -> int:
    """413 for an oversized query, 400 for an empty one, 422 for refused content."""
    if decision.reason in ("limit.max_chars", "limit.max_bytes"):
        return 413
    return 400 if decision.reason == "limit.empty" else 422


def guard_request(chain: GuardChain, task: str, query: str) -> RequestVerdict:
    """The input guards' verdict on one request, in HTTP terms."""
    decision = chain.check_input(query)
    if decision.allowed:
        return RequestVerdict(decision, proceed=True, text=decision.text)
    if decision.respond_empty:
        empty = chain.safe_empty(task)
        if empty is not None:  # a task with no empty form (a pure enum) gets the 4xx instead
            return RequestVerdict(decision, proceed=False, answer=empty)
    message = f"request refused by the {decision.guard} guard ({decision.reason})"
    return RequestVerdict(
        decision,
        proceed=False,
        status=http_status(decision),
        error={"code": decision.reason, "message": message, "reasons": list(decision.reasons)},
    )


@dataclass
class GuardedAnswer:
    """The served answer, who gave it, and the output verdicts of everyone tried."""

    value: Any
    source: str
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (answerer, reason)

    @property
    def fell_back(self) -> bool:
        return bool(self.rejected)


def _accept(
    chain: GuardChain, task: str, text: str, name: str, value: Any, out: GuardedAnswer
) -> bool:
    decision = chain.check_output(task, text, value)
    if decision.allowed:
        out.value, out.source = value, name
        return True
    out.rejected.append((name, decision.reason))
    return False


def guarded_answer(
    chain: GuardChain, task: str, text: str, answerers: Sequence[tuple[str, Callable[[str], Any]]]
) -> GuardedAnswer:
    """The first answer (in `answerers` order) that passes the output guards, else the empty one.

    An answerer that raises counts as rejected (`error`). `text` is the guarded query.
    """
    out = GuardedAnswer(chain.safe_empty(task), SAFE_EMPTY)
    for name, answer in answerers:
        try:
            value = answer(text)
        except Exception:
            out.rejected.append((name, "error"))
            continue
        if _accept(chain, task, text, name, value, out):
            return out
    out.value, out.source = chain.safe_empty(task), SAFE_EMPTY
    return out


async def aguarded_answer(
    chain: GuardChain, task: str, text: str, answerers: Sequence[tuple[str, Answerer]]
) -> GuardedAnswer:
    """`guarded_answer` for async answerers (Serve handles): awaited one after another."""
    out = GuardedAnswer(chain.safe_empty(task), SAFE_EMPTY)
    for name, answer in answerers:
        try:
            value = answer(text)
            if inspect.isawaitable(value):
                value = await value
        except Exception:
            out.rejected.append((name, "error"))
            continue
        if _accept(chain, task, text, name, value, out):
            return out
    out.value, out.source = chain.safe_empty(task), SAFE_EMPTY
    return out


class RouterGuards:
    """The router's guard hook (`serving.answering.GuardHook`) over one GuardChain.

    Args:
        chain: the chain built from the same `guards` section the labeling job uses.
        error: the router's error type, called as error(status, code, message); kept as a
            parameter so that this core module does not import the serving package.
    """

    def __init__(self, chain: GuardChain, error: Callable[[int, str, str], Exception]) -> None:
        self.chain, self.error = chain, error

    def verdict(self, task: str, query: str) -> RequestVerdict:
        """The full input verdict (for routers that answer out-of-domain queries themselves)."""
        return guard_request(self.chain, task, query)

    def check_request(self, task: str, query: str) -> str:
        """The query to send on (redacted), or raise `error` with a 4xx and the reason code.

        An out-of-domain query raises too (422, code `ood`, the task's empty answer in the
        message) for a router that does not call `verdict` to answer it with that empty form.
        """
        v = self.verdict(task, query)
        if v.proceed:
            return v.text or ""
        if v.error is not None:
            raise self.error(v.status, v.error["code"], v.error["message"])
        empty = json.dumps(v.answer, ensure_ascii=False)
        raise self.error(
            422,
            "ood",
            f"the query is not about the pack's domain; {task}'s empty answer is {empty}",
        )

    def check_answer(self, task: str, query: str, value: Any) -> bool:
        """True when `value` may be served for `query` (the text the model saw)."""
        return self.chain.check_output(task, query, value).allowed

    def safe_empty(self, task: str) -> Any:
        """The task's safe empty answer, served when no model's answer passes."""
        return self.chain.safe_empty(task)
