"""A guard's verdict: allow, redact (go on with rewritten text) or block, with reason codes.

Reason codes are stable strings, grouped in families by their prefix: `limit.*`, `unicode.*`,
`injection.*`, `pii.*`, `ood`, `output.*`; `ok` means nothing was found. They are what metrics,
logs, quarantine files and HTTP errors carry: never the raw text.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum


class Action(StrEnum):
    """What the caller does with the text. Ordered by severity: allow < redact < block."""

    ALLOW = "allow"
    REDACT = "redact"  # go on, but with Decision.text (PII replaced, Unicode tricks removed)
    BLOCK = "block"

    @property
    def severity(self) -> int:
        return _SEVERITY[self]


_SEVERITY = {Action.ALLOW: 0, Action.REDACT: 1, Action.BLOCK: 2}

# Which reason becomes the primary one when several guards fire with the same action:
# the earlier family in this list wins (size before anything, then attacks, then content).
FAMILY_PRIORITY = ("limit", "unicode.bidi", "injection", "output", "ood", "pii", "unicode")

OK = "ok"


def family(reason: str) -> str:
    """The family of a reason code: `pii.email` -> `pii`, `unicode.bidi` -> `unicode.bidi`."""
    if reason == "unicode.bidi":
        return reason
    return reason.split(".", 1)[0]


def _rank(reason: str) -> int:
    fam = family(reason)
    return FAMILY_PRIORITY.index(fam) if fam in FAMILY_PRIORITY else len(FAMILY_PRIORITY)


@dataclass(frozen=True)
class Finding:
    """One thing a guard found: its reason code, the action it asks for, and where (no value)."""

    guard: str
    reason: str
    action: Action
    start: int = -1
    end: int = -1
    respond_empty: bool = False  # answer with the task's empty form rather than an error


@dataclass(frozen=True)
class Decision:
    """The verdict of a guard or of the whole chain.

    Attributes:
        action: allow, redact or block.
        reason: the primary reason code (`ok` when allowed with nothing found).
        guard: the guard that gave the primary reason (`chain` when nothing was found).
        text: the text to go on with (normalised and redacted); for a block, the redacted text
            safe to store in quarantine, or None when even that is not kept (oversized input).
        findings: everything every guard found, in chain order (positions, never values).
        respond_empty: a block that is answered with the task's empty form (out of domain)
            instead of an error.
    """

    action: Action
    reason: str = OK
    guard: str = "chain"
    text: str | None = None
    findings: tuple[Finding, ...] = field(default=())
    respond_empty: bool = False

    @property
    def allowed(self) -> bool:
        """True when the caller may go on (allow or redact)."""
        return self.action is not Action.BLOCK

    @property
    def reasons(self) -> tuple[str, ...]:
        """Every distinct reason found, primary first."""
        seen = dict.fromkeys([self.reason, *(f.reason for f in self.findings)])
        return tuple(r for r in seen if r != OK or len(seen) == 1)

    def as_dict(self) -> dict:
        """A JSON-safe summary without any text (what logs and quarantine rows carry)."""
        return {
            "action": self.action.value,
            "reason": self.reason,
            "guard": self.guard,
            "reasons": list(self.reasons),
            "respond_empty": self.respond_empty,
        }


def decide(findings: Iterable[Finding], text: str | None) -> Decision:
    """Combine findings: the most severe action wins; ties go to the earlier reason family."""
    found = tuple(findings)
    if not found:
        return Decision(Action.ALLOW, OK, "chain", text)
    action = max((f.action for f in found), key=lambda a: a.severity)
    top = [f for f in found if f.action is action]
    primary = min(top, key=lambda f: (_rank(f.reason), f.start))
    if action is Action.ALLOW:  # findings logged only (a guard in "log" mode)
        return Decision(Action.ALLOW, OK, "chain", text, found)
    return Decision(action, primary.reason, primary.guard, text, found, primary.respond_empty)
