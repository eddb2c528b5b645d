"""Reading prompt files line by line: every bad line becomes a reject with its reason, never a crash.

Prompt lines: {"id", "input", "source"?, "category_hint"?, "family"?, "task"?, "context"?}.
A line with "task" is labeled for that task only (task-specific prompts); others for every task.
"""

from __future__ import annotations

import json
from typing import Any

REQUIRED = ("id", "input")


def _reject(source: str, line: int, reason: str, raw: bytes) -> dict[str, Any]:
    text = raw.decode("utf-8", errors="replace").rstrip("\n")
    return {"id": f"{source}:{line}", "task": None, "reason": reason, "raw": text[:2000]}


def parse_prompt_line(raw: bytes, source: str, line: int) -> dict[str, Any]:
    """One prompt from one JSONL line; ValueError with the reason otherwise."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{source}:{line}: invalid UTF-8 at byte {exc.start}") from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{source}:{line}: not valid JSON ({exc.msg})") from None
    if not isinstance(obj, dict):
        raise ValueError(f"{source}:{line}: a prompt must be a JSON object")
    missing = [k for k in REQUIRED if not isinstance(obj.get(k), str)]
    if missing:
        raise ValueError(f"{source}:{line}: missing or non-string field(s) {missing}")
    try:
        obj["input"].encode("utf-8")
    except UnicodeEncodeError:  # "\udc80"-style escapes decode to lone surrogates
        raise ValueError(f"{source}:{line}: input is not valid Unicode text") from None
    obj.setdefault("family", obj["id"])
    obj.setdefault("source", source)
    return obj


def read_prompts(data: bytes, source: str) -> tuple[list[dict], list[dict]]:
    """(prompts, rejects) from JSONL bytes; duplicate ids are rejected after the first."""
    prompts, rejects, seen = [], [], set()
    for number, raw in enumerate(data.splitlines(keepends=True), start=1):
        if not raw.strip():
            continue
        try:
            prompt = parse_prompt_line(raw, source, number)
        except ValueError as exc:
            rejects.append(_reject(source, number, str(exc), raw))
            continue
        if prompt["id"] in seen:
            rejects.append(_reject(source, number, f"duplicate id {prompt['id']!r}", raw))
            continue
        seen.add(prompt["id"])
        prompts.append(prompt)
    return prompts, rejects


def to_jsonl(rows: list[dict]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")
