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


STUDENT_PROMPT_VERSION = 2  # part of the training stage's cache key: a new format retrains


def student_messages(
    pack: TaskPack, task: TaskSpec, query: str, context: dict | None
) -> list[Message]:
    """The short student prompt: query + as_of + task tag, no few-shot context.

    The task tag comes last so that one query's prompts for every task share all but their last
    few tokens: the server prefills that prefix once for /v1/analyze (version 1 put the tag first).
    """
    return [
        {"role": "system", "content": "Answer with JSON only."},
        {
            "role": "user",
            "content": f"{_query_block(query, pack.as_of(context))}\nTask: {task.name}",
        },
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
        f"{json.dumps(task.output_schema, ensure_ascii=False)}\nAnswer with the JSON only."
    )
    messages: list[Message] = [{"role": "system", "content": system}]
    for ex in task.examples:
        messages.append({"role": "user", "content": _query_block(ex.input, pack.as_of(ex.context))})
        messages.append({"role": "assistant", "content": canonical_json(ex.output)})
    messages.append({"role": "user", "content": _query_block(query, pack.as_of(context))})
    return messages


def answer_text(output: Any) -> str:
    """What a model is trained to emit for an output value."""
    return canonical_json(output)
