"""The guard chain on the labeling path: what the teacher sees and what enters a dataset.

- `apply_input_guards`: each record's query passes the input guards; the redacted text is
  what gets labeled and stored; blocked records go to quarantine with their reason.
- `apply_output_guards`: each labeled record's answer passes the output guards before it
  enters the dataset; failures go to quarantine.
Quarantine rows never hold raw text: the redacted query (None for an oversized one), the
reason codes and a SHA-256 prefix of the original.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

from mkd.guards.chain import GuardChain
from mkd.guards.decision import Action, Decision
from mkd.guards.metrics import text_hash
from mkd.records import Record


def quarantine_row(record: Record, decision: Decision, stage: str, raw: str) -> dict[str, Any]:
    """A quarantine line: who, why, and only text that is safe to keep."""
    extra = record.model_extra or {}
    return {
        "id": extra.get("id"),
        "task": record.task,
        "stage": stage,
        "input": decision.text if stage == "input" else record.input,
        "input_sha256": text_hash(raw),
        **decision.as_dict(),
    }


def input_decisions(
    records: Iterable[Record], chain: GuardChain
) -> Iterator[tuple[Record, Decision]]:
    """Each record with the input guards' decision on its query (the labeling path)."""
    for rec in records:
        yield rec, chain.check_input(rec.input)


def apply_input_guards(
    records: Iterable[Record], chain: GuardChain
) -> tuple[list[Record], list[dict[str, Any]]]:
    """Split records into (kept with redacted input, quarantine rows) by the input guards.

    A kept record that was changed carries `guard: {"action", "reasons"}`.
    """
    kept: list[Record] = []
    quarantined: list[dict[str, Any]] = []
    for rec, decision in input_decisions(records, chain):
        if not decision.allowed:
            quarantined.append(quarantine_row(rec, decision, "input", rec.input))
            continue
        update: dict[str, Any] = {"input": decision.text}
        if decision.action is not Action.ALLOW:
            update["guard"] = {"action": decision.action.value, "reasons": list(decision.reasons)}
        kept.append(rec.model_copy(update=update))
    return kept, quarantined


def apply_output_guards(
    records: Iterable[Record], chain: GuardChain
) -> tuple[list[Record], list[dict[str, Any]]]:
    """Split labeled records into (kept, quarantine rows) by the output guards.

    Records must already hold the guarded input (the text the teacher saw).
    """
    kept: list[Record] = []
    quarantined: list[dict[str, Any]] = []
    for rec in records:
        decision = chain.check_output(rec.task, rec.input, rec.output or "")
        if decision.allowed:
            kept.append(rec)
        else:
            quarantined.append(quarantine_row(rec, decision, "output", rec.input))
    return kept, quarantined


def summarize(quarantined: Iterable[dict[str, Any]]) -> dict[str, int]:
    """Counts of quarantined rows by `stage/reason` (for a dataset manifest)."""
    return dict(Counter(f"{q['stage']}/{q['reason']}" for q in quarantined))


# --- hooks for mkd.data.labeling (item dicts of the Ray Data pipeline) ---------------------------


def guard_item(item: dict[str, Any], chain: GuardChain) -> tuple[dict[str, Any], str | None]:
    """An item with its `input` redacted, and a quarantine reason (`guard: <code>`) or None.

    A blocked item keeps only its redacted text (empty for an oversized one), so the
    quarantine never stores raw personal data.
    """
    decision = chain.check_input(item["input"])
    guarded = {**item, "input": decision.text or ""}
    return guarded, None if decision.allowed else f"guard: {decision.reason}"


def guard_row(row: dict[str, Any], chain: GuardChain) -> dict[str, Any]:
    """A labeled row whose answer fails the output guards becomes a quarantined one."""
    if row.get("status") != "labeled":
        return row
    decision = chain.check_output(row["task"], row["input"], row["output"])
    if decision.allowed:
        return row
    failed = {**row, "status": "quarantined", "reason": f"guard: {decision.reason}", "output": ""}
    if decision.reason == "output.pii" and "raw" in row:
        failed["raw"] = ""  # the raw answer holds the personal data the guard found
    return failed
