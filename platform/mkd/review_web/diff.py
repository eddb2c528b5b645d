"""JSON answers as indented HTML with the keys and values that differ from the other answer marked."""

from __future__ import annotations

import json
from typing import Any

from markupsafe import Markup, escape

_MISSING = object()


def parse(text: str | None) -> Any:
    """The parsed answer, or _MISSING when there is none or it is not JSON."""
    if text is None:
        return _MISSING
    try:
        return json.loads(text)
    except (json.JSONDecodeError, TypeError):
        return _MISSING


def pretty(text: str | None) -> str:
    """Indented JSON for the editor; the text itself when it does not parse."""
    value = parse(text)
    return text or "" if value is _MISSING else json.dumps(value, indent=2, ensure_ascii=False)


def _mark(html: str) -> str:
    return f'<mark class="diff">{html}</mark>'


def _scalar(value: Any) -> str:
    return str(escape(json.dumps(value, ensure_ascii=False)))


def _block(value: Any, indent: int) -> str:
    """Plain indented JSON (escaped), continuation lines indented by `indent`."""
    text = json.dumps(value, indent=2, ensure_ascii=False).replace("\n", "\n" + " " * indent)
    return str(escape(text))


def _render(value: Any, other: Any, indent: int) -> str:
    if other is _MISSING:
        return _mark(_block(value, indent))
    pad, inner = " " * indent, " " * (indent + 2)
    if isinstance(value, dict) and isinstance(other, dict):
        if not value:
            return "{}" if not other else _mark("{}")
        lines = [
            f"{inner}{_scalar(k)}: {_render(v, other[k], indent + 2)}"
            if k in other
            else inner + _mark(f"{_scalar(k)}: {_block(v, indent + 2)}")
            for k, v in value.items()
        ]
        return "{\n" + ",\n".join(lines) + f"\n{pad}}}"
    if isinstance(value, list) and isinstance(other, list):
        if not value:
            return "[]" if not other else _mark("[]")
        lines = [
            inner + _render(v, other[i] if i < len(other) else _MISSING, indent + 2)
            for i, v in enumerate(value)
        ]
        return "[\n" + ",\n".join(lines) + f"\n{pad}]"
    if isinstance(value, dict | list) or isinstance(other, dict | list) or value != other:
        return _mark(_block(value, indent))
    return _block(value, indent)


def diff_html(text: str | None, other: str | None) -> Markup:
    """`text` as indented JSON, marking what differs from `other` (nothing marked when `other`
    is absent or not JSON; the raw text, escaped, when `text` is not JSON)."""
    value = parse(text)
    if value is _MISSING:
        return Markup('<span class="none">no answer</span>') if not text else escape(text)
    theirs = parse(other)
    if theirs is _MISSING:
        return Markup(_block(value, 0))
    return Markup(_render(value, theirs, 0))


def differing_paths(text: str | None, other: str | None) -> list[str]:
    """JSON-pointer-like paths where the two answers differ (for summaries and tests)."""
    out: list[str] = []

    def walk(a: Any, b: Any, path: str) -> None:
        if isinstance(a, dict) and isinstance(b, dict):
            for k in sorted(set(a) | set(b), key=str):
                walk(a.get(k, _MISSING), b.get(k, _MISSING), f"{path}/{k}")
        elif isinstance(a, list) and isinstance(b, list):
            for i in range(max(len(a), len(b))):
                walk(
                    a[i] if i < len(a) else _MISSING,
                    b[i] if i < len(b) else _MISSING,
                    f"{path}/{i}",
                )
        elif a is _MISSING or b is _MISSING or a != b or type(a) is not type(b):
            out.append(path or "/")

    mine, theirs = parse(text), parse(other)
    if mine is _MISSING and theirs is _MISSING:
        return []
    walk(mine, theirs, "")
    return out
