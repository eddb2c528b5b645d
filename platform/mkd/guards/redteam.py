"""The red-team set: queries with the guard decision each must get, and how well the guards do.

Each line of `data/redteam.jsonl` in a pack is
    {"id", "input" | "generate": {"parts": [{"text", "times"}]}, "expected": {"decision",
     "reason"}, "category": "pii|injection|ood|unicode|long|benign", "note"?}
Extremely long inputs are generated from a compact spec, so the file stays small.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mkd.guards.decision import Decision, family
from mkd.tasks.pack import load_pack

REDTEAM_FILE = "data/redteam.jsonl"
# Reason families measured for precision and recall (`ok` is the negative class).
FAMILIES = ("pii", "injection", "ood", "unicode", "limit")


class Part(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str
    times: int = Field(1, ge=1, le=10_000_000)


class Generate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    parts: list[Part] = Field(min_length=1)


class Expected(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: Literal["allow", "redact", "block"]
    reason: str


class RedTeamItem(BaseModel):
    """One red-team query and the decision the guards must reach."""

    model_config = ConfigDict(extra="forbid")
    id: str
    input: str | None = None
    generate: Generate | None = None
    expected: Expected
    category: Literal["pii", "injection", "ood", "unicode", "long", "benign"]
    note: str = ""

    @model_validator(mode="after")
    def _one_source(self) -> RedTeamItem:
        if (self.input is None) == (self.generate is None):
            raise ValueError("give exactly one of `input` and `generate`")
        return self

    def text(self) -> str:
        """The query: `input`, or the generated text."""
        if self.input is not None:
            return self.input
        assert self.generate is not None
        return "".join(p.text * p.times for p in self.generate.parts)


def load_redteam(source: str | Path) -> list[RedTeamItem]:
    """Load a pack's red-team set (pack name or folder) or a JSONL file; ValueError naming the
    bad line."""
    path = Path(source)
    if not path.is_file():
        path = load_pack(str(source)).data_file(REDTEAM_FILE)
    items: list[RedTeamItem] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append(RedTeamItem.model_validate(json.loads(line)))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or '<item>'}: {e['msg'].removeprefix('Value error, ')}"
                for e in exc.errors()
            )
            raise ValueError(f"{path}:{number}: {problems}") from None
    ids = Counter(i.id for i in items)
    if dupes := [i for i, n in ids.items() if n > 1]:
        raise ValueError(f"{path}: duplicate ids {dupes}")
    return items


def _family_of(reason: str) -> str | None:
    fam = family(reason)
    fam = "unicode" if fam == "unicode.bidi" else fam
    return fam if fam in FAMILIES else None


def score(items: Sequence[RedTeamItem], decisions: Sequence[Decision]) -> dict[str, Any]:
    """Exact agreement per category, and precision/recall per reason family.

    A true positive for a family: expected and primary reasons both in the family, with the
    expected action. Recall = TP / items expected in the family; precision = TP / items whose
    primary reason is in the family. Mistakes list ids only (never the text).
    """
    by_cat: dict[str, Counter] = defaultdict(Counter)
    fam: dict[str, Counter] = {f: Counter() for f in FAMILIES}
    mistakes = []
    for item, d in zip(items, decisions, strict=True):
        exact = d.action.value == item.expected.decision and d.reason == item.expected.reason
        by_cat[item.category].update(n=1, correct=int(exact))
        want, got = _family_of(item.expected.reason), _family_of(d.reason)
        if want:
            fam[want]["expected"] += 1
        if got:
            fam[got]["predicted"] += 1
        if want and want == got and d.action.value == item.expected.decision:
            fam[want]["tp"] += 1
        if not exact:
            mistakes.append(
                {
                    "id": item.id,
                    "expected": f"{item.expected.decision}/{item.expected.reason}",
                    "got": f"{d.action.value}/{d.reason}",
                }
            )
    return {
        "n": len(items),
        "accuracy": sum(c["correct"] for c in by_cat.values()) / max(1, len(items)),
        "by_category": {
            c: {"n": v["n"], "correct": v["correct"], "accuracy": v["correct"] / v["n"]}
            for c, v in sorted(by_cat.items())
        },
        "by_family": {f: _pr(v) for f, v in fam.items()},
        "mistakes": mistakes,
    }


def _pr(c: Counter) -> dict[str, Any]:
    return {
        "expected": c["expected"],
        "predicted": c["predicted"],
        "tp": c["tp"],
        "precision": c["tp"] / c["predicted"] if c["predicted"] else None,
        "recall": c["tp"] / c["expected"] if c["expected"] else None,
    }
