"""Human review: a stratified sample out, verdicts and corrections back in as overrides.

Export: up to N items per task, drawn round-robin across the task's labels (so a rare label is
reviewed too), as CSV and JSONL with the teacher's answer. A reviewer fills `verdict`
(accept | correct | reject) and, for `correct`, `corrected_output`. Import validates every row
against the task schema, stores the rows under reviews/<dataset>/<version>/ with provenance, and
the build applies them as overrides and records the teacher's error rate per task in the manifest.
A rejected record leaves the splits for the quarantine (reason `review: rejected`). The review web
page (mkd.review_web) stores its decisions through the same path.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import random
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mkd.data.manifest import label_of
from mkd.records import canonical_json
from mkd.storage import Store
from mkd.store_layout import reviews_prefix
from mkd.tasks import TaskPack

COLUMNS = ["id", "task", "label", "input", "as_of", "teacher_output", "verdict"]
COLUMNS += ["corrected_output", "reviewer", "notes", "input_sha256"]
VERDICTS = ("accept", "correct", "reject")
REJECTED_REASON = "review: rejected"


def input_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def sample_for_review(records: list[dict], per_task: int, seed: int) -> list[dict]:
    """Up to `per_task` records per task, round-robin over its labels (seeded order)."""
    rng = random.Random(seed)
    strata: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for rec in sorted(records, key=lambda r: r["id"]):
        strata[rec["task"]][label_of(rec["task"], json.loads(rec["output"]))].append(rec)
    picked = []
    for task in sorted(strata):
        queues = [rng.sample(recs, len(recs)) for _, recs in sorted(strata[task].items())]
        taken = 0
        while taken < per_task and any(queues):
            for queue in queues:
                if queue and taken < per_task:
                    picked.append(queue.pop())
                    taken += 1
    return picked


def export_review(records: list[dict], out_dir: Path, per_task: int, seed: int) -> list[Path]:
    """Write review.csv and review.jsonl (same rows) for reviewers; returns both paths."""
    rows = []
    for rec in sample_for_review(records, per_task, seed):
        rows.append(
            {
                "id": rec["id"],
                "task": rec["task"],
                "label": label_of(rec["task"], json.loads(rec["output"])),
                "input": rec["input"],
                "as_of": (rec.get("context") or {}).get("as_of", ""),
                "teacher_output": rec["output"],
                "verdict": "",
                "corrected_output": "",
                "reviewer": "",
                "notes": "",
                "input_sha256": input_sha256(rec["input"]),
            }
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path, jsonl_path = out_dir / "review.csv", out_dir / "review.jsonl"
    with open(csv_path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    jsonl_path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return [csv_path, jsonl_path]


def _read_rows(path: Path) -> list[tuple[int, dict]]:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".csv":
        return [(n, row) for n, row in enumerate(csv.DictReader(io.StringIO(text)), start=2)]
    rows = []
    for n, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                rows.append((n, json.loads(line)))
            except json.JSONDecodeError as exc:
                rows.append((n, {"__error__": f"not valid JSON ({exc.msg})"}))
    return rows


def parse_review(
    path: Path, pack: TaskPack, reviewer: str | None = None
) -> tuple[list[dict], list[str]]:
    """(review rows with provenance, problems naming file:line); rows without a verdict are skipped."""
    reviews, problems = [], []
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    for line, row in _read_rows(path):
        where = f"{path.name}:{line}"
        if "__error__" in row:
            problems.append(f"{where}: {row['__error__']}")
            continue
        verdict = (row.get("verdict") or "").strip().lower()
        if not verdict:
            continue
        if verdict not in VERDICTS:
            problems.append(f"{where}: verdict must be accept, correct or reject, got {verdict!r}")
            continue
        if row.get("task") not in pack.tasks:
            problems.append(f"{where}: unknown task {row.get('task')!r}")
            continue
        output = row.get("teacher_output")
        if verdict == "correct":
            output, problem = _corrected(pack, row)
            if problem:
                problems.append(f"{where}: {problem}")
                continue
        reviews.append(
            {
                "id": row["id"],
                "task": row["task"],
                "input_sha256": row.get("input_sha256") or "",
                "verdict": verdict,
                "output": output,
                "previous_output": row.get("teacher_output"),
                "reviewer": (row.get("reviewer") or reviewer or "unknown").strip(),
                "notes": row.get("notes") or "",
                "reviewed_at": stamp,
                "file": path.name,
            }
        )
    return reviews, problems


def _corrected(pack: TaskPack, row: dict) -> tuple[str | None, str | None]:
    text = row.get("corrected_output") or ""
    try:
        value = json.loads(text) if isinstance(text, str) else text
    except json.JSONDecodeError as exc:
        return None, f"corrected_output is not valid JSON ({exc.msg})"
    errors = pack.task(row["task"]).schema_errors(value)
    if errors:
        return None, f"corrected_output breaks the {row['task']} schema: {errors[0]}"
    return canonical_json(value), None


def store_reviews(store: Store, dataset: str, version: str, reviews: list[dict]) -> str:
    """Save imported rows as a new immutable file; returns its key.

    Names start with the UTC time to the microsecond, so files sort oldest first (and a later
    decision on the same item, a second apart or not, wins in apply_overrides)."""
    body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in reviews).encode()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    name = f"{stamp}-{hashlib.sha256(body).hexdigest()[:8]}.jsonl"
    key = reviews_prefix(dataset, version) + name
    store.put_bytes(key, body, if_absent=True)
    return key


def load_overrides(store: Store, dataset: str, version: str) -> list[dict]:
    """Every imported review row for the version, oldest file first (later ones win)."""
    rows = []
    for key in store.list(reviews_prefix(dataset, version)):
        rows += [json.loads(x) for x in store.get_bytes(key).splitlines() if x.strip()]
    return rows


# A review verdict as the record's `reviewed` mark: the values evaluation's is_gold accepts.
REVIEWED_AS = {"accept": "accepted", "correct": "corrected"}


def apply_overrides(
    records: list[dict], reviews: list[dict]
) -> tuple[list[dict], dict[str, Any], list[dict]]:
    """(records with corrections applied, per-task review stats, quarantine rows of rejected
    records). A kept record carries provenance in `review` and the verdict in `reviewed`; a
    rejected one leaves the records for the quarantine with reason `review: rejected`."""
    latest = {r["id"]: r for r in reviews}
    stats: dict[str, dict[str, Any]] = {}
    out, rejected = [], []
    for rec in records:
        rev = latest.get(rec["id"])
        if rev and rev["input_sha256"] and rev["input_sha256"] != input_sha256(rec["input"]):
            rev = None  # the review was of another text under the same id: not applicable
        if rev:
            s = stats.setdefault(rec["task"], {"reviewed": 0, "corrected": 0, "rejected": 0})
            s["reviewed"] += 1
            provenance = {
                k: rev[k] for k in ("verdict", "reviewer", "reviewed_at", "file", "notes")
            }
            if rev["verdict"] == "reject":
                s["rejected"] += 1
                rejected.append(
                    {
                        "id": rec["id"],
                        "task": rec["task"],
                        "input": rec["input"],
                        "reason": REJECTED_REASON,
                        "raw": rec["output"],
                        "review": provenance,
                    }
                )
                continue
            if rev["verdict"] == "correct" and rev["output"] != rec["output"]:
                s["corrected"] += 1
                provenance["teacher_output"] = rec["output"]
                rec = {**rec, "output": rev["output"]}
            # `reviewed` is what evaluation reads as human gold (evaluation.gold_field)
            rec = {**rec, "review": provenance, "reviewed": REVIEWED_AS[rev["verdict"]]}
        out.append(rec)
    for s in stats.values():
        # a rejection is an item unfit for the dataset, not counted as a teacher error
        s["teacher_error_rate"] = round(s["corrected"] / s["reviewed"], 4)
    summary = {
        "tasks": dict(sorted(stats.items())),
        "rows": len(reviews),
        "rejected": len(rejected),
    }
    return out, summary, rejected
