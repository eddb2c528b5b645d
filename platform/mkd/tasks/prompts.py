"""Prompts: the teacher's context-engineered prompt and the student's short one.

The gap between the two is the point of distillation: the teacher needs instruction, schema and
few-shot examples; the trained student only needs the task name, the query and as_of.
"""

from __future__ import annotations

import json
from typing import Any

from mkd.records import canonical_json
from mkd.tasks.pack import TaskPack, TaskSpec

Message = dict[str, str]


def _query_block(query: str, as_of: str) -> str:
    return f"Query: {query}\nas_of: {as_of}"


STUDENT_PROMPT_VERSION = 4  # part of the training stage's cache key: a new format retrains
# 4: no boilerplate (a one-word system turn, no field labels), 3: answers in schema key order
# (answer_text), 2: task tag last, 1: task tag first


def student_messages(
    pack: TaskPack, task: TaskSpec, query: str, context: dict | None
) -> list[Message]:
    """The short student prompt: the query, as_of and the task tag, one a line, nothing else.

    A trained student needs no instruction, schema or field labels: the task tag selects the
    answer format (version 4 dropped the instruction and the labels; the tokens it saves:
    docs/training.md, "Training to a deadline on a CPU"). The one-word system turn keeps the
    chat template from adding its default system prompt. The task tag comes last so that one
    query's prompts for every task share all but their last few tokens: the server prefills that
    prefix once for /v1/analyze, training packs it once.
    """
    return [
        {"role": "system", "content": "JSON"},
        {"role": "user", "content": f"{query}\n{pack.as_of(context)}\n{task.name}"},
    ]


def shared_prefix_len(token_lists: list[list[int]] | list[tuple[int, ...]]) -> int:
    """How many leading tokens all the lists have in common (one query's prompts for several
    tasks share everything up to the task tag: prefilled once when serving, packed once in
    training)."""
    first = token_lists[0]
    n = 0
    while n < len(first) and all(len(t) > n and t[n] == first[n] for t in token_lists):
        n += 1
    return n


def teacher_messages(
    pack: TaskPack, task: TaskSpec, query: str, context: dict | None
) -> list[Message]:
    """The teacher's prompt: instruction, schema, few-shot turns, then the query."""
    system = (
        f"{task.instruction}\n\nThe answer must be JSON valid against this schema:\n"
        f"{json.dumps(task.standard_schema, ensure_ascii=False)}\nAnswer with the JSON only."
    )
    messages: list[Message] = [{"role": "system", "content": system}]
    for ex in task.examples:
        messages.append({"role": "user", "content": _query_block(ex.input, pack.as_of(ex.context))})
        messages.append({"role": "assistant", "content": canonical_json(ex.output)})
    messages.append({"role": "user", "content": _query_block(query, pack.as_of(context))})
    return messages


def answer_text(output: Any, schema: dict) -> str:
    """What the student is trained to emit (and the serving grammar lets it emit) for a value.

    Compact JSON like the canonical form, but each object's keys in the order of the task
    schema's `properties`, not sorted: a date item then reads phrase, date_period, start, end,
    so the student copies the phrase before it interprets it (canonical order would make it
    write the period and the end date first; the runs: docs/training.md, "Key order of the
    answers"). llguidance, one of vLLM's structured-output backends, also fixes keys to
    `properties` order. Stored records stay canonical: both parse to the same value.
    """
    return json.dumps(schema_ordered(output, schema), separators=(",", ":"), ensure_ascii=False)


def schema_ordered(value: Any, schema: dict) -> Any:
    """`value` with every object's keys in its schema's `properties` order (others after,
    sorted). Follows `items`, `properties` and the object branch of `anyOf`/`oneOf`."""
    if isinstance(value, list):
        return [schema_ordered(v, schema.get("items", {})) for v in value]
    if not isinstance(value, dict):
        return value
    schema = _object_branch(schema)
    props = schema.get("properties", {})
    rank = {key: i for i, key in enumerate(props)}
    keys = sorted(value, key=lambda k: (rank.get(k, len(rank)), k))
    return {k: schema_ordered(value[k], props.get(k, {})) for k in keys}


def _object_branch(schema: dict) -> dict:
    if "properties" in schema:
        return schema
    for key in ("anyOf", "oneOf"):
        for sub in schema.get(key, []):
            if "properties" in sub:
                return sub
    return schema
