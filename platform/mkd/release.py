"""May a registry version take traffic? One rule for every deploy path.

`mkd models promote`, `mkd serve`, `mkd rollout set --weight > 0`, the Student's start and the
demo's canary step all ask `gate_verdict` and refuse through `require_gates`: a version may take
traffic only when its manifest records `gates.passed: true` (mkd.evaluation.gates.gates_summary).
A version with failed gates, or with no gate results at all, is refused unless forced; the
refusal names the failed gates. Shadow traffic (student weight 0) is never gated.

A version that serving rolled back automatically (the Router's rollback gate failed; marked in the
registry by Registry.mark_rolled_back) is refused the same way by `require_not_rolled_back`,
naming the reason, unless forced: `mkd serve`, `mkd rollout set --weight > 0` and
`mkd models promote` apply it. The Student's own start does not (a Student replica restarting
after a rollback must come back, the Router keeps it out of traffic).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mkd.registry import ModelVersion, RegistryError


class GatesNotPassed(RegistryError):
    """A version whose gates did not pass was asked to take traffic without being forced."""


class RolledBack(RegistryError):
    """A version that serving rolled back was asked to take traffic without being forced."""


def require_not_rolled_back(
    mv: ModelVersion, action: str, force: bool, how: str = "--force"
) -> str | None:
    """The rollback reason recorded for `mv` (None when never rolled back); RolledBack naming
    it when there is one and not `force`."""
    mark = mv.rolled_back
    if not mark:
        return None
    reason = mark.get("reason") or "no reason recorded"
    if not force:
        raise RolledBack(
            f"{mv.ref} was rolled back automatically at {mark.get('at', '?')} "
            f"({reason}); {action} needs {how} "
            "(shadow traffic, student weight 0, accepts any version)"
        )
    return reason


@dataclass(frozen=True)
class GateVerdict:
    """A version's recorded gate outcome: passed, and the `task/check` names that failed."""

    ref: str
    passed: bool
    failed: tuple[str, ...] = ()
    recorded: bool = True
    rolled_back: str | None = None  # the reason, when serving rolled it back (and it was forced)

    @property
    def clean(self) -> bool:
        """Gates passed and never rolled back: nothing was forced."""
        return self.passed and not self.rolled_back

    def describe(self) -> str:
        """`gates passed`, `gates failed (task/check, ...)` or `no gate results`, then
        `; rolled back (reason)` when it was."""
        if self.passed:
            text = "gates passed"
        elif not self.recorded:
            text = "no gate results"
        else:
            text = f"gates failed ({', '.join(self.failed) or 'unnamed'})"
        return text + (f"; rolled back ({self.rolled_back})" if self.rolled_back else "")


def verdict_of(ref: str, manifest: dict[str, Any]) -> GateVerdict:
    """The verdict a manifest records (its `gates` section)."""
    gates = manifest.get("gates")
    if not isinstance(gates, dict) or "passed" not in gates:
        return GateVerdict(ref, False, recorded=False)
    return GateVerdict(ref, gates.get("passed") is True, tuple(gates.get("failed") or ()))


def gate_verdict(mv: ModelVersion) -> GateVerdict:
    """The verdict of one registry version."""
    return verdict_of(mv.ref, mv.manifest)


def require_gates(mv: ModelVersion, action: str, force: bool, how: str = "--force") -> GateVerdict:
    """`mv`'s verdict; GatesNotPassed naming its failed gates when they did not pass and not `force`.

    Args:
        mv: the version asked to take traffic.
        action: what was asked, for the message (e.g. "promoting it to canary").
        force: go ahead anyway (the caller records or reports that it was forced).
        how: how the caller forces it (a CLI flag or a chart value), named in the refusal.
    """
    verdict = gate_verdict(mv)
    if not verdict.passed and not force:
        what = (
            f"failed its gates: {', '.join(verdict.failed) or 'unnamed'}"
            if verdict.recorded
            else "has no gate results (never evaluated)"
        )
        raise GatesNotPassed(
            f"{mv.ref} {what}; {action} needs {how} "
            "(shadow traffic, student weight 0, accepts any version)"
        )
    return verdict
