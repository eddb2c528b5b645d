"""Teacher call logs (OpenAI chat-completions JSONL) as a labeled source of a dataset version.

A team that already calls its teacher in production has labels for exactly the traffic the
student will face. `import_log_lines` turns each logged call into a dataset record: the task
by the configured rule (data.log_import), the query out of the last user message, the answer
validated and normalised like any teacher label, the query and answer through the guard chain.
Every line ends as a record or a quarantine row naming the line and the reason; a quarantine
row never holds the raw line (it may carry personal data), only its hash and the redacted query.

`store_import` writes one import under work/<dataset>/<version>/imports/<name>/ (report last:
an import without it is unfinished and ignored); the dataset build merges finished imports.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from mkd.config.data import LogImportConfig
from mkd.data.labeling import normalise
from mkd.data.near_dup import normalise_text
from mkd.data.prompts_io import to_jsonl
from mkd.storage import Store, sha256_bytes
from mkd.store_layout import imports_prefix
from mkd.tasks import TaskPack
from mkd.teachers.openai_backend import strip_fences

REPORT = "report.json"


class LogLineError(ValueError):
    """A log line that cannot become a record; the message names the field."""


@dataclass
class ImportResult:
    records: list[dict[str, Any]] = field(default_factory=list)
    quarantine: list[dict[str, Any]] = field(default_factory=list)
    duplicates: int = 0

    def report(self, name: str, sha256: str, lines: int) -> dict[str, Any]:
        reasons: dict[str, int] = {}
        for q in self.quarantine:
            key = q["reason"].split(":")[0]
            reasons[key] = reasons.get(key, 0) + 1
        return {
            "file": name,
            "sha256": sha256,
            "lines": lines,
            "records": len(self.records),
            "duplicates": self.duplicates,
            "quarantined": len(self.quarantine),
            "quarantine_reasons": dict(sorted(reasons.items())),
        }


def dotted(obj: Any, path: str) -> Any:
    """obj["a"]["b"] for "a.b"; None where any step is missing."""
    for part in path.split("."):
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj


def _messages(line: dict) -> list[dict]:
    request = line.get("request")
    if not isinstance(request, dict):
        raise LogLineError("request: missing or not an object")
    messages = request.get("messages")
    if not isinstance(messages, list) or not messages:
        raise LogLineError("request.messages: missing or empty")
    return [m for m in messages if isinstance(m, dict)]


def _content(message: dict) -> str:
    content = message.get("content")
    if isinstance(content, list):  # content parts: keep the text ones
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else ""


def _response_body(line: dict) -> dict:
    response = line.get("response")
    if not isinstance(response, dict):
        raise LogLineError("response: missing or not an object")
    if "body" in response:  # the Batch API's {status_code, body}
        status = response.get("status_code", 200)
        if status != 200:
            raise LogLineError(f"response.status_code: {status}")
        response = response["body"]
    if not isinstance(response, dict):
        raise LogLineError("response.body: not an object")
    return response


def task_of(line: dict, cfg: LogImportConfig, pack: TaskPack) -> str:
    """The line's task by the configured rule; LogLineError naming what was missing."""
    if cfg.task_from == "field":
        task = dotted(line, cfg.task_field)
        where = cfg.task_field
    elif cfg.task_from == "model":
        model = dotted(line, "request.model")
        task, where = cfg.model_tasks.get(str(model)), f"request.model {model!r}"
    else:
        system = " ".join(_content(m) for m in _messages(line) if m.get("role") == "system")
        match = re.search(cfg.system_pattern, system)
        task, where = (match.group("task") if match else None), "system message"
    if not isinstance(task, str) or not task:
        raise LogLineError(f"task: none found in {where} (data.log_import.task_from)")
    if task not in pack.tasks:
        raise LogLineError(
            f"task: unknown task {task!r} (pack {pack.name!r}: {', '.join(pack.tasks)})"
        )
    return task


def query_of(line: dict, cfg: LogImportConfig) -> tuple[str, str | None]:
    """(query, as_of from the message or None) out of the last user message."""
    users = [m for m in _messages(line) if m.get("role") == "user"]
    if not users:
        raise LogLineError("request.messages: no user message")
    match = re.match(cfg.query_pattern, _content(users[-1]))
    if not match or not (match.group("query") or "").strip():
        raise LogLineError("request.messages: the last user message does not match query_pattern")
    groups = match.groupdict()
    return groups["query"].strip(), groups.get("as_of")


def answer_of(line: dict, task: str, pack: TaskPack) -> str:
    """The teacher's answer as canonical JSON, checked against the task's schema."""
    body = _response_body(line)
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise LogLineError("response.choices: missing or empty")
    if choices[0].get("finish_reason") == "length":
        raise LogLineError("response.choices[0].finish_reason: length (a truncated answer)")
    content = _content(choices[0].get("message") or {})
    try:
        value = json.loads(strip_fences(content))
    except json.JSONDecodeError as exc:
        raise LogLineError(f"response.choices[0].message.content: not JSON ({exc.msg})") from None
    output, problem = normalise(pack, task, value)
    if output is None:
        raise LogLineError(f"response.choices[0].message.content: {problem}")
    return output


def as_of_of(line: dict, from_message: str | None, cfg: LogImportConfig, pack: TaskPack) -> str:
    """The date the teacher answered relative to: message, field, call day, pack default."""
    if from_message:
        return from_message
    value = dotted(line, cfg.as_of_field)
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return value
    created = dotted(line, "response.created") or dotted(line, "response.body.created")
    if isinstance(created, int | float):
        return dt.datetime.fromtimestamp(created, dt.UTC).date().isoformat()
    return pack.as_of(None)


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def query_family(query: str) -> str:
    """The family of a query from outside the curated set (logs, feedback): one per normalised
    query, so the same question never sits in two splits, whatever its task or source."""
    return f"q-{_hash(normalise_text(query))[:16]}"


def to_log_record(
    line: dict, raw: str, name: str, number: int, cfg: LogImportConfig, pack: TaskPack
) -> dict:
    """One log line as a dataset record (before the guards); LogLineError otherwise."""
    task = task_of(line, cfg, pack)
    query, as_of = query_of(line, cfg)
    output = answer_of(line, task, pack)
    prompt_id = f"log-{_hash(raw)[:16]}"
    return {
        "id": f"{prompt_id}:{task}",
        "prompt_id": prompt_id,
        # one family per distinct query, so the same question never sits in two splits
        "family": query_family(query),
        "source": f"log:{name}",
        "input": query,
        "task": task,
        "output": output,
        "context": {"as_of": as_of_of(line, as_of, cfg, pack)},
        "teacher": str(dotted(line, "request.model") or dotted(line, "response.model") or ""),
        "prompt_version": "log",
        "imported": {"file": name, "line": number},
    }


def _quarantine(name: str, number: int, raw: str, reason: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"{name}:{number}",
        "line": number,
        "line_sha256": _hash(raw),
        "reason": reason,
        **extra,
    }


def _guarded(record: dict, guards: Any) -> tuple[dict | None, str | None, str]:
    """(record with redacted query, or None; the guard's reason; the redacted query)."""
    decision = guards.check_input(record["input"])
    if not decision.allowed:
        return None, f"guard: {decision.reason}", decision.text or ""
    record = {**record, "input": decision.text}
    answer = guards.check_output(record["task"], record["input"], record["output"])
    if not answer.allowed:
        return None, f"guard: {answer.reason}", record["input"]
    return record, None, record["input"]


def import_log_lines(
    data: bytes, name: str, cfg: LogImportConfig, pack: TaskPack, guards: Any = None
) -> ImportResult:
    """Every line of a log file as a record or a quarantine row (never both, never neither).

    A repeated (task, query) with the same answer is counted as a duplicate; with another
    answer it is quarantined, naming the line it conflicts with.
    """
    result, seen = ImportResult(), {}
    for number, raw_bytes in enumerate(data.splitlines(), start=1):
        raw = raw_bytes.decode("utf-8", errors="replace")
        if not raw.strip():
            continue
        try:
            line = json.loads(raw)
            if not isinstance(line, dict):
                raise LogLineError("line: not a JSON object")
            record = to_log_record(line, raw, name, number, cfg, pack)
        except json.JSONDecodeError as exc:
            result.quarantine.append(
                _quarantine(name, number, raw, f"line: not valid JSON ({exc.msg})")
            )
            continue
        except LogLineError as exc:
            result.quarantine.append(_quarantine(name, number, raw, str(exc)))
            continue
        if guards is not None:
            guarded, reason, shown = _guarded(record, guards)
            if guarded is None:
                result.quarantine.append(
                    _quarantine(name, number, raw, reason or "", task=record["task"], input=shown)
                )
                continue
            record = guarded
        first = repeat_of(seen, record)
        if first is None:
            result.records.append(record)
        elif first["output"] == record["output"]:
            result.duplicates += 1
        else:
            line_no = first["imported"]["line"]
            reason = f"conflict: another answer than line {line_no} for the same query"
            result.quarantine.append(_quarantine(name, number, raw, reason, task=record["task"]))
    return result


def repeat_of(seen: dict[tuple[str, str], dict], record: dict) -> dict | None:
    """The earlier record of the same task and normalised query, or None (then `record` is
    remembered as the first): one rule for repeats in logs and in feedback."""
    first = seen.setdefault((record["task"], normalise_text(record["input"])), record)
    return None if first is record else first


def store_import(
    store: Store, dataset: str, version: str, name: str, data: bytes, result: ImportResult
) -> str:
    """Write one import (records, quarantine, then its report); returns its prefix."""
    digest = sha256_bytes(data)
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", name.rsplit("/", 1)[-1])
    prefix = f"{imports_prefix(dataset, version)}{stem}-{digest[:12]}/"
    store.put_bytes(prefix + "records.jsonl", to_jsonl(result.records))
    store.put_bytes(prefix + "quarantine.jsonl", to_jsonl(result.quarantine))
    lines = sum(1 for x in data.splitlines() if x.strip())
    store.put_json(prefix + REPORT, result.report(name, digest, lines))  # last: finished
    return prefix


def load_imports(
    store: Store, dataset: str, version: str
) -> tuple[list[dict], list[dict], list[dict]]:
    """(records, quarantine rows, reports) of every finished import of a version."""
    records, quarantine, reports = [], [], []
    keys = store.list(imports_prefix(dataset, version))
    for key in sorted(k for k in keys if k.endswith("/" + REPORT)):
        prefix = key.removesuffix(REPORT)
        reports.append(store.get_json(key))
        for part, rows in (("records.jsonl", records), ("quarantine.jsonl", quarantine)):
            rows += [
                json.loads(x) for x in store.get_bytes(prefix + part).splitlines() if x.strip()
            ]
    return records, quarantine, reports


def merge_imports(labeled: list[dict], imported: list[dict]) -> tuple[list[dict], list[dict]]:
    """(imported records to add, quarantine rows): a query the pipeline labeled itself, or one
    already imported from another file, is not added twice."""
    taken = {(r["task"], normalise_text(r["input"])) for r in labeled}
    added, dropped = [], []
    for rec in imported:
        key = (rec["task"], normalise_text(rec["input"]))
        if key in taken:
            where = rec["imported"]
            reason = "duplicate: the same query and task is already in this dataset version"
            dropped.append(
                {"id": f"{where['file']}:{where['line']}", "task": rec["task"], "reason": reason}
            )
            continue
        taken.add(key)
        added.append(rec)
    return added, dropped
