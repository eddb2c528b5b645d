"""Batch prediction: any model (student, base, quantized variant, teacher) over records.

Local models answer through an mkd.inference engine, the one serving uses: transformers under
MKD's constrained decoder, or, for a GGUF variant, llama.cpp when llama_cpp is installed
(transformers dequantising it otherwise; ModelSpec.engine "auto"). Each answer comes back with
what it cost (wall time, prompt and output tokens) and the engine that gave it. Local models run
in-process, or on Ray Data actors when a cluster address is given (the same code in each actor).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from mkd.inference import (
    Decoding,
    EngineItem,
    EngineOutput,
    EngineSpec,
    EvalDecoding,
    PromptStyle,
    make_engine,
)
from mkd.records import Record, canonical_json
from mkd.scoring import parse_prediction
from mkd.tasks import TaskPack, load_pack

__all__ = [
    "Decoding",
    "LocalPredictor",
    "ModelSpec",
    "Prediction",
    "PromptStyle",
    "TeacherPredictor",
    "predict_on_ray",
]


@dataclass
class Prediction:
    """One model answer. `output` is the raw text; `violation` says why it is not a valid answer.

    latency_s is the seconds per query: a batch's wall time shared by its items (the cost a
    batching server pays), or one request's time for a remote teacher. `engine` names the
    mkd.inference backend that answered (the teacher's backend for the teacher).
    """

    task: str
    output: str | None
    latency_s: float
    prompt_tokens: int
    output_tokens: int
    violation: str | None = None
    batch_size: int = 1
    engine: str = ""


@dataclass(frozen=True)
class ModelSpec:
    """Everything needed to load a local model again, in this process or in a Ray actor.

    base_uri: a base-model URI (gguf+pkg://, a directory, a .gguf file).
    adapter_path: a PEFT adapter directory to merge on top, if any.
    quantization: "nf4" loads the directory's bitsandbytes 4-bit weights (from its config).
    engine: the mkd.inference backend; "auto" scores a GGUF as it is served (llama.cpp when
        llama_cpp is installed where the model loads, transformers dequantised otherwise).
    """

    label: str
    base_uri: str
    adapter_path: str | None = None
    prompt: PromptStyle = "student"
    dtype: str = "float32"
    quantization: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    engine: str = "transformers"


class Predictor(Protocol):
    label: str

    def predict(self, records: Sequence[Record]) -> list[Prediction]: ...


def _finish(pack: TaskPack, task: str, text: str | None) -> tuple[str | None, str | None]:
    """Canonical JSON for a valid answer; the raw text and the reason for an invalid one."""
    value, violation = parse_prediction(pack.task(task), text)
    if violation:
        return text, violation
    return canonical_json(value), None


def _prediction(pack: TaskPack, out: EngineOutput, engine: str) -> Prediction:
    """An engine's answer as evaluation scores it: the text it wrote, parsed again."""
    output, violation = _finish(pack, out.task, out.raw)
    if out.raw is None and out.error:  # nothing written: the engine's reason says more
        violation = out.error
    return Prediction(
        out.task, output, out.latency_s, out.prompt_tokens, out.output_tokens, violation,
        out.batch_size, engine,
    )  # fmt: skip


def engine_spec(spec: ModelSpec, max_new_tokens: int | None, decoding: EvalDecoding) -> EngineSpec:
    """The engine settings of a model spec; an adapter is merged for speed (no swapping here)."""
    return EngineSpec(
        backend=spec.engine, model_uri=spec.base_uri, adapter=spec.adapter_path,
        version=spec.label, prompt=spec.prompt, dtype=spec.dtype,
        decoding="free" if decoding == "free" else "constrained",
        copy_spans=decoding == "constrained", quantization=spec.quantization,
        merge_adapter=True, max_new_tokens=max_new_tokens,
    )  # fmt: skip


class LocalPredictor:
    """A local model (base, base + adapter, merged master, nf4, GGUF) through its engine.

    decoding "constrained" answers as every serving engine does: greedy under the task's JSON
    Schema, so the scores are those of what is served. "free" is plain greedy generate, which
    shows how often the model alone breaks the contract.
    """

    def __init__(
        self,
        spec: ModelSpec,
        pack: TaskPack,
        batch_size: int = 16,
        max_new_tokens: int | None = None,
        decoding: EvalDecoding = "constrained",
    ) -> None:
        self.spec, self.pack, self.batch_size = spec, pack, batch_size
        self.label = spec.label
        self.engine = make_engine(engine_spec(spec, max_new_tokens, decoding), pack)

    @property
    def backend(self) -> str:
        """The engine that answers (what the evaluation report names)."""
        return self.engine.backend

    def predict(
        self, records: Sequence[Record], on_batch: Callable[[int], None] | None = None
    ) -> list[Prediction]:
        """Answer every record, batched per task and by query length (little padding)."""
        out: list[Prediction | None] = [None] * len(records)
        for indices in _by_task(records).values():
            ordered = sorted(indices, key=lambda i: len(str(records[i].input)))
            for start in range(0, len(ordered), self.batch_size):
                chunk = ordered[start : start + self.batch_size]
                items = [
                    EngineItem(records[i].task, records[i].input, records[i].context) for i in chunk
                ]
                for i, answer in zip(chunk, self.engine.generate(items), strict=True):
                    out[i] = _prediction(self.pack, answer, self.backend)
                if on_batch:
                    on_batch(len(chunk))
        return [p for p in out if p is not None]


class TeacherPredictor:
    """Any TeacherBackend (reference, OpenAI-compatible endpoint, hf, vllm) as a predictor."""

    def __init__(self, teacher: Any, pack: TaskPack, label: str = "teacher", batch_size: int = 64):
        self.teacher, self.pack, self.label, self.batch_size = teacher, pack, label, batch_size
        self.backend = str(getattr(teacher, "backend", "teacher"))

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
                        engine=self.backend,
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


# -- Ray Data -------------------------------------------------------------------------------------
class _RayPredictActor:
    """One model per actor; Ray Data feeds it batches of records (columns as lists)."""

    def __init__(
        self,
        spec: dict,
        pack: str,
        batch_size: int,
        max_new_tokens: int | None,
        decoding: EvalDecoding,
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
    decoding: EvalDecoding = "constrained",
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
