"""The JSONL record contract, canonical JSON, and streaming reads that never drop a line silently."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError


def canonical_json(value: Any) -> str:
    """Keys sorted, no insignificant whitespace, UTF-8 kept (the spec's canonical form)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonicalize_output(output: str) -> str:
    """Re-serialise a JSON document string canonically; ValueError if it does not parse."""
    return canonical_json(json.loads(output))


class Record(BaseModel):
    """One line of a dataset: the query, its task, the label (a JSON string) and context.

    Unknown fields (id, source, teacher, family...) are carried through untouched.
    """

    model_config = ConfigDict(extra="allow")

    input: str
    task: str
    output: str | None = Field(None, description="The label: a JSON document as a string.")
    context: dict[str, Any] | None = None

    def parsed_output(self) -> Any:
        if self.output is None:
            raise ValueError("record has no output")
        return json.loads(self.output)

    def to_json(self) -> str:
        return json.dumps(self.model_dump(exclude_none=True), ensure_ascii=False)


def family_key(record: Record | Mapping[str, Any]) -> str:
    """The prompt family a record belongs to: its `family` (the curated parent of a variation),
    else its own id, else its query. A Record or a raw JSON line alike: splits, labeling items,
    manifests, evaluation samples and intervals all group by this one rule."""
    if isinstance(record, Mapping):
        return str(record.get("family") or record.get("id") or record["input"])
    return str(getattr(record, "family", None) or getattr(record, "id", None) or record.input)


class RecordError(ValueError):
    """A line that could not be read as a record, with where it came from."""

    def __init__(self, path: str, line: int, message: str, raw: str = "") -> None:
        super().__init__(f"{path}:{line}: {message}")
        self.path, self.line, self.message, self.raw = path, line, message, raw


@dataclass
class ReadReport:
    """What a read saw: how many lines were good and every bad one (never dropped silently)."""

    ok: int = 0
    errors: list[RecordError] | None = None

    def __post_init__(self) -> None:
        self.errors = self.errors or []


def parse_line(raw: str, path: str, line: int) -> Record:
    """Parse one JSONL line into a Record or raise RecordError naming file and line."""
    try:
        obj = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise RecordError(
            path, line, f"not valid JSON ({exc.msg} at column {exc.colno})", raw
        ) from None
    if not isinstance(obj, dict):
        raise RecordError(path, line, "a record must be a JSON object", raw)
    try:
        return Record.model_validate(obj)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or '<record>'}: {e['msg']}" for e in exc.errors()
        )
        raise RecordError(path, line, problems, raw) from None


def read_records(
    path: str | Path,
    on_error: Literal["raise", "reject"] = "raise",
    report: ReadReport | None = None,
) -> Iterator[Record]:
    """Stream records from a JSONL file (see `read_numbered`)."""
    for _, record in read_numbered(path, on_error, report):
        yield record


def read_numbered(
    path: str | Path,
    on_error: Literal["raise", "reject"] = "raise",
    report: ReadReport | None = None,
) -> Iterator[tuple[int, Record]]:
    """Stream (line number, record) pairs from a JSONL file.

    Args:
        path: the JSONL file (UTF-8; invalid bytes are an error on their line).
        on_error: "raise" stops at the first bad line; "reject" collects it in `report`.
        report: receives counts and every rejected line when on_error="reject".
    """
    report = report if report is not None else ReadReport()
    with open(path, "rb") as fh:
        for number, raw_bytes in enumerate(fh, start=1):
            if not raw_bytes.strip():
                continue
            try:
                try:
                    raw = raw_bytes.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise RecordError(
                        str(path), number, f"invalid UTF-8 at byte {exc.start}"
                    ) from None
                record = parse_line(raw, str(path), number)
            except RecordError as err:
                if on_error == "raise":
                    raise
                report.errors.append(err)
                continue
            report.ok += 1
            yield number, record


def write_records(path: str | Path, records: Iterable[Record | dict]) -> int:
    """Write records as JSONL through a temporary file renamed into place; returns the count."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial")
    count = 0
    with open(tmp, "w", encoding="utf-8") as fh:
        for rec in records:
            line = rec.to_json() if isinstance(rec, Record) else json.dumps(rec, ensure_ascii=False)
            fh.write(line + "\n")
            count += 1
    tmp.replace(path)
    return count


def write_rejects(path: str | Path, errors: Iterable[RecordError]) -> int:
    """Write rejected lines with their reason, one JSON object a line."""
    rows = [{"file": e.path, "line": e.line, "error": e.message, "raw": e.raw} for e in errors]
    return write_records(path, rows)
