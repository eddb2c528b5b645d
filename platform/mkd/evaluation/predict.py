"""Batch prediction: any model (student, base, quantized variant, teacher) over records.

Each answer comes back with what it cost: wall time, prompt and output tokens. Local models run
in-process, or on Ray Data actors when a cluster address is given (the same code in each actor).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

from mkd.models.loading import chat_prompt_ids, generate_counted
from mkd.records import Record, canonical_json
from mkd.scoring import parse_prediction
from mkd.tasks import TaskPack, load_pack, student_messages, teacher_messages

PromptStyle = Literal["student", "fewshot"]
Decoding = Literal["constrained", "free"]


@dataclass
class Prediction:
    """One model answer. `output` is the raw text; `violation` says why it is not a valid answer.

    latency_s is the seconds per query: a batch's wall time shared by its items (the cost a
    batching server pays), or one request's time for a remote teacher.
    """

    task: str
    output: str | None
    latency_s: float
    prompt_tokens: int
    output_tokens: int
    violation: str | None = None
    batch_size: int = 1


@dataclass(frozen=True)
class ModelSpec:
    """Everything needed to load a local model again, in this process or in a Ray actor.

    base_uri: a base-model URI (gguf+pkg://, a directory, a .gguf file).
    adapter_path: a PEFT adapter directory to merge on top, if any.
    quantization: "nf4" loads the directory's bitsandbytes 4-bit weights (from its config).
    """

    label: str
    base_uri: str
    adapter_path: str | None = None
    prompt: PromptStyle = "student"
    dtype: str = "float32"
    quantization: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Predictor(Protocol):
    label: str

    def predict(self, records: Sequence[Record]) -> list[Prediction]: ...


def _finish(pack: TaskPack, task: str, text: str | None) -> tuple[str | None, str | None]:
    """Canonical JSON for a valid answer; the raw text and the reason for an invalid one."""
    value, violation = parse_prediction(pack.task(task), text)
    if violation:
        return text, violation
    return canonical_json(value), None


class LocalPredictor:
    """A transformers model (base, base + adapter, merged master, nf4, GGUF dequantized).

    decoding "constrained" answers as every serving engine does: greedy under the task's JSON
    Schema (mkd.decoding), so the scores are those of what is served. "free" is plain greedy
    generate, which shows how often the model alone breaks the contract.
    """

    def __init__(
        self,
        spec: ModelSpec,
        pack: TaskPack,
        batch_size: int = 16,
        max_new_tokens: int | None = None,
        decoding: Decoding = "constrained",
    ) -> None:
        self.spec, self.pack, self.batch_size = spec, pack, batch_size
        self.max_new_tokens = max_new_tokens
        self.label = spec.label
        self.model, self.tokenizer = load_local_model(spec)
        self.decoder = None
        if decoding == "constrained":
            from mkd.decoding import ConstrainedDecoder

            self.decoder = ConstrainedDecoder(self.model, self.tokenizer)

    def predict(
        self, records: Sequence[Record], on_batch: Callable[[int], None] | None = None
    ) -> list[Prediction]:
        """Answer every record, batched per task and by prompt length (little padding)."""
        out: list[Prediction | None] = [None] * len(records)
        for task, indices in _by_task(records).items():
            spec = self.pack.task(task)
            messages = {i: self._messages(records[i]) for i in indices}
            lengths = {i: len(str(messages[i])) for i in indices}
            ordered = sorted(indices, key=lengths.__getitem__)
            for start in range(0, len(ordered), self.batch_size):
                chunk = ordered[start : start + self.batch_size]
                for i, pred in zip(
                    chunk, self._batch(spec, [messages[i] for i in chunk]), strict=True
                ):
                    out[i] = pred
                if on_batch:
                    on_batch(len(chunk))
        return [p for p in out if p is not None]

    def _messages(self, record: Record) -> list[dict]:
        build = student_messages if self.spec.prompt == "student" else teacher_messages
        return build(self.pack, self.pack.task(record.task), record.input, record.context)

    def _batch(self, task: Any, conversations: list[list[dict]]) -> list[Prediction]:
        started = time.perf_counter()
        budget = self.max_new_tokens or task.max_output_tokens
        if self.decoder is None:
            texts, prompt_tokens, output_tokens = generate_counted(
                self.model, self.tokenizer, conversations, budget
            )
        else:
            texts, prompt_tokens, output_tokens = self._constrained(task, conversations, budget)
        per_item = (time.perf_counter() - started) / len(conversations)
        preds = []
        for text, p_tok, o_tok in zip(texts, prompt_tokens, output_tokens, strict=True):
            output, violation = _finish(self.pack, task.name, text)
            preds.append(
                Prediction(task.name, output, per_item, p_tok, o_tok, violation, len(conversations))
            )
        return preds

    def _constrained(
        self, task: Any, conversations: list[list[dict]], budget: int
    ) -> tuple[list[str], list[int], list[int]]:
        prompts = [chat_prompt_ids(self.tokenizer, c) for c in conversations]
        n = len(prompts)
        results = self.decoder.decode(prompts, [task.output_schema] * n, [budget] * n)
        texts = [r.text for r in results]
        # the answer's length in tokens, as billed: bytes the grammar fixed are output too,
        # though jump-forward spent no forward on them (DecodeResult.tokens leaves some out)
        out_tokens = [len(self.tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts]
        return texts, [len(p) for p in prompts], out_tokens


class TeacherPredictor:
    """Any TeacherBackend (reference, OpenAI-compatible endpoint, hf, vllm) as a predictor."""

    def __init__(self, teacher: Any, pack: TaskPack, label: str = "teacher", batch_size: int = 64):
        self.teacher, self.pack, self.label, self.batch_size = teacher, pack, label, batch_size

    def predict(
        self, records: Sequence[Record], on_batch: Callable[[int], None] | None = None
    ) -> list[Prediction]:
        from mkd.teachers.base import LabelRequest

        out: list[Prediction] = []
        for start in range(0, len(records), self.batch_size):
            chunk = records[start : start + self.batch_size]
            requests = [
                LabelRequest(str(start + n), r.task, r.input, r.context)
                for n, r in enumerate(chunk)
            ]
            for result in self.teacher.label(requests):
                text = result.raw if result.ok else None
                output, violation = _finish(self.pack, result.task, text)
                out.append(
                    Prediction(
                        result.task, output, result.latency_s, result.usage.prompt_tokens,
                        result.usage.completion_tokens, violation or result.error,
                    )
                )  # fmt: skip
            if on_batch:
                on_batch(len(chunk))
        return out


def _by_task(records: Sequence[Record]) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = {}
    for i, r in enumerate(records):
        groups.setdefault(r.task, []).append(i)
    return groups


def load_local_model(spec: ModelSpec) -> tuple[Any, Any]:
    """Load the model a spec names; an adapter is merged for speed (no adapter swapping here)."""
    if spec.quantization == "nf4":
        return _load_nf4(spec.base_uri)
    from mkd.models import load_student

    return load_student(spec.base_uri, spec.adapter_path, dtype=spec.dtype, merge=True)


def _load_nf4(directory: str) -> tuple[Any, Any]:
    """A bitsandbytes 4-bit checkpoint: its config carries the quantization settings."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(directory)
    tokenizer.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(directory, device_map="cpu")
    model.eval()
    return model, tokenizer


# -- Ray Data -------------------------------------------------------------------------------------
class _RayPredictActor:
    """One model per actor; Ray Data feeds it batches of records (columns as lists)."""

    def __init__(
        self, spec: dict, pack: str, batch_size: int, max_new_tokens: int | None, decoding: Decoding
    ) -> None:
        self.predictor = LocalPredictor(
            ModelSpec(**spec), load_pack(pack), batch_size, max_new_tokens, decoding
        )

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        import json

        records = [
            Record(input=i, task=t, context=json.loads(c) if c else None)
            for i, t, c in zip(batch["input"], batch["task"], batch["context"], strict=True)
        ]
        preds = self.predictor.predict(records)
        return {
            "index": list(batch["index"]),
            "prediction": [json.dumps(asdict(p)) for p in preds],
        }


def predict_on_ray(
    spec: ModelSpec,
    pack: str,
    records: Sequence[Record],
    address: str,
    batch_size: int = 16,
    num_cpus: float = 0.5,
    num_gpus: float = 0.0,
    max_new_tokens: int | None = None,
    decoding: Decoding = "constrained",
) -> list[Prediction]:
    """Predict with one Ray Data actor per model copy on the cluster at `address`.

    Fractional CPUs per actor keep a 2-CPU cluster from deadlocking (the read task needs one).
    """
    import json

    import ray

    from mkd.services.ray_local import loopback_env

    loopback_env()
    if not ray.is_initialized():
        ray.init(address=address, log_to_driver=False)
    rows = [
        {"index": n, "input": r.input, "task": r.task, "context": json.dumps(r.context or {})}
        for n, r in enumerate(records)
    ]
    ds = ray.data.from_items(rows).map_batches(
        _RayPredictActor,
        fn_constructor_kwargs={
            "spec": asdict(spec),
            "pack": pack,
            "batch_size": batch_size,
            "max_new_tokens": max_new_tokens,
            "decoding": decoding,
        },
        batch_size=batch_size * 4,
        batch_format="numpy",
        concurrency=1,
        num_cpus=num_cpus,
        num_gpus=num_gpus,
    )
    results = sorted(ds.take_all(), key=lambda row: int(row["index"]))
    return [Prediction(**json.loads(row["prediction"])) for row in results]
