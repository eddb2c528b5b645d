"""Guard parity between the teacher path (labeling) and the student path (serving).

The same red-team set goes through `mkd.guards.labeling` (what the teacher is shown when a
dataset is labeled) and `mkd.guards.serving` (what the router does before a student answers).
The decisions should not differ (goal: rate 0); each path is also scored against the expected
decisions (precision and recall per reason family). Optional answerers add the output side:
for every query both paths let through, each model's answer is checked by the output guards.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from mkd.config.guards import GuardsConfig
from mkd.config.pipeline import DEFAULT_PACK
from mkd.guards import labeling, serving
from mkd.guards.chain import GuardChain
from mkd.guards.redteam import RedTeamItem, load_redteam, score
from mkd.records import Record
from mkd.tasks import load_pack

# answer(task, query) -> the parsed answer (or a JSON string)
ModelAnswer = Callable[[str, str], Any]


def _label(d) -> str:
    return f"{d.action.value}/{d.reason}"


def run_parity(
    config: GuardsConfig | None = None,
    pack: str | None = None,
    *,
    serving_config: GuardsConfig | None = None,
    task: str | None = None,
    items: Sequence[RedTeamItem] | None = None,
    answerers: dict[str, ModelAnswer] | None = None,
) -> dict[str, Any]:
    """Run the red-team set through both paths and compare.

    Args:
        config: the guards section of the pipeline (the labeling side).
        serving_config: the serving side's guards section when it is configured apart
            (None: the same section, which is the point).
        pack: the task pack (None: the pipeline config's default pack).
        task: the task the requests name on the serving path (input guards do not depend on it;
            None: the pack's first task).
        items: red-team items (None: the pack's set).
        answerers: optional {"teacher": f, "student": f}, f(task, query) -> answer, checked by
            the output guards on every query both paths allow.

    Returns:
        {"n", "differ", "differ_rate", "differences": [{"id", "teacher", "student"}],
         "teacher": score(...), "student": score(...), "items": [per-item decisions],
         "outputs": {answerer: {"checked", "blocked", "block_rate", "reasons"}} (with answerers)}
    """
    pack = pack or DEFAULT_PACK
    task = task or next(iter(load_pack(pack).tasks))
    items = list(items) if items is not None else load_redteam(pack)
    labeling_chain = GuardChain(config, pack, path="eval-labeling")
    serving_chain = GuardChain(serving_config or config, pack, path="eval-serving")
    records = [Record(input=i.text(), task=task, id=i.id) for i in items]
    teacher = [d for _, d in labeling.input_decisions(records, labeling_chain)]
    student = [serving.guard_request(serving_chain, task, r.input).decision for r in records]
    rows, differences = [], []
    for item, t, s in zip(items, teacher, student, strict=True):
        row = {
            "id": item.id,
            "category": item.category,
            "expected": f"{item.expected.decision}/{item.expected.reason}",
            "teacher": _label(t),
            "student": _label(s),
        }
        rows.append(row)
        if (t.action, t.reason, t.text) != (s.action, s.reason, s.text):
            differences.append({k: row[k] for k in ("id", "teacher", "student")})
    report: dict[str, Any] = {
        "n": len(items),
        "differ": len(differences),
        "differ_rate": len(differences) / max(1, len(items)),
        "differences": differences,
        "teacher": score(items, teacher),
        "student": score(items, student),
        "items": rows,
    }
    if answerers:
        allowed = [t.text for t, s in zip(teacher, student, strict=True) if t.allowed and s.allowed]
        report["outputs"] = {
            name: _output_checks(serving_chain, task, allowed, fn) for name, fn in answerers.items()
        }
    return report


def _output_checks(chain: GuardChain, task: str, queries: list, answer: ModelAnswer) -> dict:
    reasons: Counter = Counter()
    for query in queries:
        try:
            value = answer(task, query)
        except Exception:
            reasons["error"] += 1
            continue
        decision = chain.check_output(task, query, value)
        if not decision.allowed:
            reasons[decision.reason] += 1
    blocked = sum(reasons.values())
    return {
        "checked": len(queries),
        "blocked": blocked,
        "block_rate": blocked / max(1, len(queries)),
        "reasons": dict(reasons),
    }
