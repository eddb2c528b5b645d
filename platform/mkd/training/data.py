"""Multi-task examples: the student prompt through the chat template, loss on the answer only."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mkd.records import Record
from mkd.tasks import TaskPack, student_messages
from mkd.tasks.prompts import answer_text

IGNORE_INDEX = -100  # label value that cross-entropy skips (prompt and padding positions)


@dataclass(frozen=True)
class Example:
    """One tokenized example: prompt tokens then answer tokens (+ eos); loss on the answer only."""

    input_ids: tuple[int, ...]
    prompt_len: int
    task: str
    query: str  # the query and its context: one query's examples share a prompt prefix
    weight: float = 1.0  # loss weight of every answer token (training.mixing.decision_balance)

    def __len__(self) -> int:
        return len(self.input_ids)


def prompt_text(tokenizer: Any, pack: TaskPack, record: Record) -> str:
    """The student's prompt as the model sees it (same text as serving and evaluation)."""
    messages = student_messages(pack, pack.task(record.task), record.input, record.context)
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def encode_records(
    tokenizer: Any, pack: TaskPack, records: Sequence[Record], max_seq_len: int
) -> list[Example]:
    """Tokenize records in one batched call per side.

    The prompt is tokenized exactly as generate_json does (chat template, no extra specials);
    the answer is its JSON in schema key order (answer_text) followed by eos, which is where
    generation must stop.
    Over-long examples lose prompt tokens from the left; the answer is kept whole when it fits.
    """
    prompts = [prompt_text(tokenizer, pack, r) for r in records]
    answers = [answer_text(r.parsed_output(), pack.task(r.task).output_schema) for r in records]
    p_ids = tokenizer(prompts, add_special_tokens=False)["input_ids"]
    a_ids = tokenizer(answers, add_special_tokens=False)["input_ids"]
    eos = tokenizer.eos_token_id
    out = []
    for record, prompt, answer in zip(records, p_ids, a_ids, strict=True):
        answer = [*answer, eos][: max_seq_len - 1]
        prompt = prompt[max(0, len(prompt) + len(answer) - max_seq_len) :]
        out.append(Example(tuple(prompt + answer), len(prompt), record.task, _query_key(record)))
    return out


def _query_key(record: Record) -> str:
    return json.dumps([record.input, record.context], sort_keys=True, ensure_ascii=False)


def collate(
    examples: Sequence[Example], pad_id: int, tasks: Sequence[str], multiple_of: int = 1
) -> dict[str, Any]:
    """Right-padded tensors: input_ids, attention_mask, labels (-100 off the answer), task_ids.

    The width is the longest example rounded up to `multiple_of` (few distinct shapes on GPUs).
    """
    import torch

    width = -(-max(len(e) for e in examples) // multiple_of) * multiple_of
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE_INDEX, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for i, e in enumerate(examples):
        row = torch.tensor(e.input_ids, dtype=torch.long)
        ids[i, : len(e)] = row
        mask[i, : len(e)] = 1
        labels[i, e.prompt_len : len(e)] = row[e.prompt_len :]
    task_ids = torch.tensor([tasks.index(e.task) for e in examples], dtype=torch.long)
    return {"input_ids": ids, "attention_mask": mask, "labels": labels, "task_ids": task_ids,
            "example_weights": example_weights(examples),
            **_answer_positions(examples, width)}  # fmt: skip


def example_weights(examples: Sequence[Example]) -> Any:
    """The examples' loss weights as a float tensor (all 1 unless decision-balanced)."""
    import torch

    return torch.tensor([e.weight for e in examples], dtype=torch.float32)


def _answer_positions(examples: Sequence[Example], width: int) -> dict[str, Any]:
    """Where the loss is, computed here on the host so that the step needs no device sync:
    flat positions (row * width + t) whose next token is an answer token, their rows and targets.
    """
    import torch

    index, rows, targets = [], [], []
    for i, e in enumerate(examples):
        index.extend(range(i * width + e.prompt_len - 1, i * width + len(e) - 1))
        rows.extend([i] * (len(e) - e.prompt_len))
        targets.extend(e.input_ids[e.prompt_len :])
    return {"answer_index": torch.tensor(index, dtype=torch.long),
            "answer_rows": torch.tensor(rows, dtype=torch.long),
            "answer_labels": torch.tensor(targets, dtype=torch.long)}  # fmt: skip
