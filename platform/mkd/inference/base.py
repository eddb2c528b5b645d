"""The one engine protocol: items (task, query, context) in, schema-checked answers out.

Labeling (teachers), evaluation (mkd.evaluation.predict) and the Serve Student all answer
through an `Engine`; each backend is one module of this package and imports its heavy library
only when an engine is built (see mkd.inference.registry).
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from mkd.records import canonical_json
from mkd.tasks import TaskPack, TaskSpec, student_messages, teacher_messages

PromptStyle = Literal["student", "fewshot"]
Decoding = Literal["constrained", "free"]
# evaluation's choice: "schema" is constrained decoding without span copying (copy_spans off)
EvalDecoding = Literal["constrained", "schema", "free"]
Runtime = Literal["auto", "lean", "transformers"]


class EngineUnavailable(ImportError):
    """An engine's library is not installed here; the message names the extra to install."""


@dataclass(frozen=True)
class EngineItem:
    """One question: the task, the user's query and its context (`as_of`...); `id` is the
    caller's (a label request's id travels to the server's request log)."""

    task: str
    input: str
    context: dict[str, Any] | None = None
    id: str = ""


@dataclass
class EngineOutput:
    """One answer and what it cost.

    `value` is the parsed JSON (keys sorted as canonical JSON when it passes the schema);
    `error` says why there is no usable answer at all (unknown task, transport, budget,
    malformed JSON); `violation` says why a parsed answer breaks the task's schema (the value
    is kept: the labeling guards judge teacher answers themselves).
    """

    task: str
    raw: str | None = None
    value: Any = None
    error: str | None = None
    violation: str | None = None
    prompt_tokens: int = 0
    output_tokens: int = 0
    forwards: int = 0
    latency_s: float = 0.0
    cost_usd: float = 0.0
    batch_size: int = 1

    @property
    def ok(self) -> bool:
        return self.error is None and self.violation is None

    @property
    def output(self) -> Any:
        """The answer when it is valid, else None."""
        return self.value if self.ok else None

    @property
    def problem(self) -> str | None:
        """Why this is not a valid answer (None when it is), as the Student reports it."""
        return self.error or (f"schema: {self.violation}" if self.violation else None)


@runtime_checkable
class Engine(Protocol):
    """A loaded model (or endpoint) that answers a batch. `backend` is its registry name, what
    reports show; `version` names the loaded model."""

    backend: str
    version: str

    def generate(self, items: Sequence[EngineItem]) -> list[EngineOutput]: ...


@runtime_checkable
class AsyncEngine(Engine, Protocol):
    """An engine that also answers from an event loop, each item as its own request to an
    engine that batches continuously (vLLM's AsyncLLM): the Serve Student awaits `agenerate`
    per request instead of gathering requests into @serve.batch batches."""

    async def agenerate(self, items: Sequence[EngineItem]) -> list[EngineOutput]: ...


@dataclass(frozen=True)
class EngineSpec:
    """What to load and how to answer; plain values, so it travels to Ray actors as a dict.

    backend: a registry name (mkd.inference.registry.ENGINES) or "auto" (llamacpp for a GGUF
        when llama_cpp is installed, transformers otherwise).
    model_uri: a base-model URI (mkd.models.uris), a directory or a .gguf file.
    adapter / task_adapters: a PEFT adapter over the base / one per task (several per batch).
    prompt: "student" (the short trained prompt) or "fewshot" (the teacher's full prompt).
    decoding: "constrained" (greedy under the task's JSON Schema, as served) or "free".
    copy_spans: constrained strings the schema marks `x-mkd-span` are copied from the item's
        input (transformers engine; the other backends take the standard schema).
    dtype: the weights' and compute dtype on the CPU; "auto": bfloat16 where the processor has
        bf16 instructions (mkd.hardware), float32 elsewhere.
    quantization: "nf4" loads a bitsandbytes 4-bit directory (transformers); "int8": decode
        forwards read per-channel int8 weights (lean runtime, bfloat16 compute).
    runtime: how the transformers engine runs a model under constrained decoding: "lean"
        (mkd.models.lean_llama: fused projections, preallocated KV cache), "transformers" (its
        own modules) or "auto" (lean where it reproduces the model, transformers otherwise).
    options: extra keyword arguments of the backend's own constructor (llama_cpp.Llama,
        vllm.LLM, vllm AsyncEngineArgs).
    """

    backend: str = "transformers"
    model_uri: str = ""
    adapter: str | None = None
    task_adapters: dict[str, str] = field(default_factory=dict)
    version: str = ""
    prompt: PromptStyle = "student"
    decoding: Decoding = "constrained"
    dtype: str = "float32"
    quantization: str | None = None
    merge_adapter: bool = False
    max_new_tokens: int | None = None
    temperature: float = 0.0
    threads: int | None = None
    jump_forward: bool = True
    copy_spans: bool = True
    runtime: Runtime = "auto"
    options: dict[str, Any] = field(default_factory=dict)


def require(module: str, backend: str, extra: str) -> Any:
    """Import a backend's library, or say which extra installs it.

    Raises:
        EngineUnavailable: `module` cannot be imported here.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise EngineUnavailable(
            f"the {backend!r} engine needs {module} ({exc}): pip install 'mkd[{extra}]'"
        ) from exc


def messages_for(pack: TaskPack, task: TaskSpec, item: EngineItem, prompt: PromptStyle) -> list:
    """The conversation an engine sends: the student's short prompt or the teacher's."""
    build = student_messages if prompt == "student" else teacher_messages
    return build(pack, task, item.input, item.context)


def known_task(pack: TaskPack, item: EngineItem) -> EngineOutput | None:
    """None for a task of the pack; otherwise the item's error (never an exception)."""
    if item.task in pack.tasks:
        return None
    known = ", ".join(pack.tasks)
    return EngineOutput(item.task, error=f"unknown task {item.task!r} (known: {known})")


def strip_fences(text: str) -> str:
    """Chat models often wrap JSON in ```json fences even when asked not to."""
    text = text.strip()
    if text.startswith("```"):
        text = text.split("\n", 1)[1] if "\n" in text else ""
        text = text.rsplit("```", 1)[0]
    return text.strip()


def finish(task: TaskSpec, out: EngineOutput, text: str | None, what: str = "") -> EngineOutput:
    """Parse `text` into `out` and check it against the task's schema.

    `what` adds context to a malformed-JSON error (a finish reason, a column...).
    """
    out.raw = text
    try:
        value = json.loads(strip_fences(text or ""))
    except json.JSONDecodeError as exc:
        detail = f" ({what})" if what else ""
        where = "" if exc.msg.endswith(" at") else " at"  # "...string starting at"
        out.error = f"malformed JSON answer{detail}: {exc.msg}{where} column {exc.colno}"
        return out
    errors = task.schema_errors(value)
    if errors:
        out.value, out.violation = value, errors[0]
    else:
        out.value = json.loads(canonical_json(value))
    return out


def in_order(
    items: Sequence[EngineItem],
    pack: TaskPack,
    answer: Any,
) -> list[EngineOutput]:
    """Answer the items of known tasks with `answer(indices)` and put every output (unknown
    tasks as item errors) back in the items' order."""
    outs: dict[int, EngineOutput] = {}
    runnable = []
    for i, item in enumerate(items):
        refused = known_task(pack, item)
        if refused is None:
            runnable.append(i)
        else:
            outs[i] = refused
    if runnable:
        outs.update(zip(runnable, answer(runnable), strict=True))
    return [outs[i] for i in range(len(items))]
