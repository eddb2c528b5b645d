"""Student engines (transformers, llama.cpp, vLLM) and the `Student` Serve deployment.

Every engine answers a batch of (task, query, context) items with the SAME short prompt training
uses (mkd.tasks.student_messages), constrained to the task's JSON Schema, and validates each
answer: an invalid one comes back as an error, never as an output.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from mkd.config.store import StoreConfig
from mkd.records import canonical_json
from mkd.serve.config import StudentArgs, StudentLiveConfig
from mkd.tasks import TaskPack, load_pack, student_messages
from ray import serve

from serving.metrics import StudentMetrics

log = logging.getLogger("ray.serve")


@dataclass
class StudentItem:
    task: str
    input: str
    context: dict[str, Any] | None = None


@dataclass
class StudentOutput:
    """An answer (`output` valid against the schema) or an `error`; never both."""

    task: str
    output: Any = None
    error: str | None = None
    forwards: int = 0
    tokens: int = 0


class StudentEngine(Protocol):
    """A loaded student that answers a batch (blocking; the deployment runs it off-loop)."""

    version: str

    def generate(self, items: list[StudentItem]) -> list[StudentOutput]: ...


@dataclass(frozen=True)
class StudentSource:
    """What to load: base model, adapters, and the version string reported to clients."""

    base_uri: str
    adapter: str | None
    task_adapters: dict[str, str]
    version: str


def resolve_source(args: StudentArgs, store: Any = None) -> StudentSource:
    """Turn `version` (registry) or `model_uri`/`adapter` into files to load.

    Args:
        args: the student section.
        store: the StoreConfig holding the registry (needed only with `version`).

    Raises:
        ValueError: `version` is set but the registry cannot resolve it to servable files.
    """
    if args.version:
        return _from_registry(args, store)
    label = Path(args.adapter).name if args.adapter else Path(args.base_uri).name
    return StudentSource(args.base_uri, args.adapter, dict(args.task_adapters), label)


def _from_registry(args: StudentArgs, store_config: Any) -> StudentSource:
    """Fetch a registry version's servable files (GGUF, the merged master or the adapter) into
    the private cache (serving.model_cache), each verified against the manifest's sha256."""
    from mkd.registry import Registry
    from mkd.storage import open_store

    from serving import model_cache

    if store_config is None:
        raise ValueError(f"student.version {args.version!r}: no store configured (args.store)")
    store = open_store(store_config)
    mv = Registry(store).resolve(args.version)
    _check_gates(args, mv)
    files = sorted(mv.manifest.get("files", {}))
    identity = model_cache.store_identity(store, store_config.s3.endpoint_url)
    root = model_cache.cache_root(args.cache_dir)
    cache = model_cache.version_dir(root, identity, mv.name, mv.version)

    def fetch(prefix: str) -> Path:
        return model_cache.fetch_verified(store, mv.prefix, mv.manifest, prefix, cache)

    ggufs = [f for f in files if f.endswith(".gguf")]
    label = f"{mv.name}:{mv.version}"
    if args.backend == "llamacpp" and ggufs:
        return StudentSource(str(fetch(ggufs[-1])), None, {}, label)
    if any(f.startswith("adapter/") for f in files):
        m = mv.manifest
        base = (
            m.get("base_model_uri") or m.get("base_uri") or (m.get("base_model") or {}).get("uri")
        )
        return StudentSource(base or args.base_uri, str(fetch("adapter/")), {}, label)
    if ggufs:  # the quantized export, as the default demo serves it
        return StudentSource(str(fetch(ggufs[-1])), None, {}, label)
    if any(f.startswith("master/") for f in files):  # export's merged full-precision model
        return StudentSource(str(fetch("master/")), None, {}, label)
    raise ValueError(
        f"student.version {args.version!r}: {label} has no gguf, master/ or adapter/ files"
    )


def _check_gates(args: StudentArgs, mv: Any) -> None:
    """Refuse a version whose gates did not pass unless the student starts in shadow only or
    `allow_unpromoted` forces it (mkd.release: the rule every deploy path shares)."""
    from mkd.release import require_gates

    if args.shadow_only:
        return
    verdict = require_gates(
        mv,
        "serving it with student traffic",
        args.allow_unpromoted,
        how="student.allow_unpromoted: true (chart: serving.student.allowUnpromoted; "
        "mkd serve --force)",
    )
    if not verdict.passed:
        log.warning("FORCED: serving %s with student traffic: %s", mv.ref, verdict.describe())


def _validated(task: Any, out: StudentOutput, value: Any) -> StudentOutput:
    errors = task.schema_errors(value)
    if errors:
        out.error = f"schema: {errors[0]}"
    else:  # keys sorted as the spec's canonical form (the student writes schema order)
        out.output = json.loads(canonical_json(value))
    return out


class TransformersEngine:
    """transformers causal LM (+ PEFT adapters, several per batch) with constrained decoding."""

    def __init__(self, args: StudentArgs, pack: TaskPack, source: StudentSource) -> None:
        import torch
        from mkd.decoding import ConstrainedDecoder
        from mkd.models import load_student

        torch.set_num_threads(args.torch_threads)
        self.pack, self.args, self.version = pack, args, source.version
        model, self.tokenizer = load_student(source.base_uri, source.adapter, dtype=args.dtype)
        self.adapter_of: dict[str, str] = {}
        if source.task_adapters:
            model = self._load_task_adapters(model, source)
        self.decoder = ConstrainedDecoder(model, self.tokenizer, jump_forward=args.jump_forward)

    def _load_task_adapters(self, model: Any, source: StudentSource) -> Any:
        from peft import PeftModel

        for i, (task, path) in enumerate(sorted(source.task_adapters.items())):
            name = f"task_{task}"
            if i == 0 and not isinstance(model, PeftModel):
                model = PeftModel.from_pretrained(model, path, adapter_name=name)
            else:
                model.load_adapter(path, adapter_name=name)
            self.adapter_of[task] = name
        return model.eval()

    def prompt_ids(self, item: StudentItem) -> list[int]:
        from mkd.models.loading import chat_prompt_ids

        task = self.pack.task(item.task)
        return chat_prompt_ids(
            self.tokenizer, student_messages(self.pack, task, item.input, item.context)
        )

    def generate(self, items: list[StudentItem]) -> list[StudentOutput]:
        tasks = [self.pack.task(i.task) for i in items]
        budgets = [self.args.max_new_tokens or t.max_output_tokens for t in tasks]
        extra = {}
        if self.adapter_of:  # PEFT mixed-adapter batch; "__base__" rows use the base weights
            extra["adapter_names"] = [self.adapter_of.get(i.task, "__base__") for i in items]
        results = self.decoder.decode(
            [self.prompt_ids(i) for i in items],
            [t.output_schema for t in tasks],
            budgets,
            forward_kwargs=extra,
        )
        outs = []
        for item, task, r in zip(items, tasks, results, strict=True):
            out = StudentOutput(item.task, forwards=r.forwards, tokens=r.tokens)
            outs.append(_validated(task, out, r.value) if r.ok else _failed(out, r.error))
        return outs


def _failed(out: StudentOutput, error: str | None) -> StudentOutput:
    out.error = error or "no answer"
    return out


class LlamaCppEngine:
    """GGUF through llama-cpp-python (imported here only), constrained by a JSON-Schema grammar."""

    def __init__(self, args: StudentArgs, pack: TaskPack, source: StudentSource) -> None:
        from llama_cpp import Llama, LlamaGrammar
        from mkd.models.uris import resolve_model_uri

        ref = resolve_model_uri(source.base_uri)
        if not ref.gguf_file:
            raise ValueError(f"student.model_uri {source.base_uri!r}: llamacpp needs a GGUF file")
        options = {
            "n_ctx": 2048,
            "n_threads": args.torch_threads,
            "verbose": False,
            **args.llamacpp,
        }
        if source.adapter:
            options["lora_path"] = source.adapter  # a GGUF LoRA (convert_lora_to_gguf)
        self.llm = Llama(model_path=str(Path(ref.path) / ref.gguf_file), **options)
        self.pack, self.args, self.version = pack, args, source.version
        self.grammars = {
            name: LlamaGrammar.from_json_schema(json.dumps(t.output_schema), verbose=False)
            for name, t in pack.tasks.items()
        }

    def generate(self, items: list[StudentItem]) -> list[StudentOutput]:
        outs = []
        for item in items:  # llama.cpp's Python API decodes one sequence at a time
            task = self.pack.task(item.task)
            out = StudentOutput(item.task)
            reply = self.llm.create_chat_completion(
                messages=student_messages(self.pack, task, item.input, item.context),
                grammar=self.grammars[item.task],
                temperature=0.0,
                max_tokens=self.args.max_new_tokens or task.max_output_tokens,
            )
            out.tokens = reply["usage"]["completion_tokens"]
            try:
                outs.append(
                    _validated(task, out, json.loads(reply["choices"][0]["message"]["content"]))
                )
            except json.JSONDecodeError as exc:
                outs.append(_failed(out, f"unparseable JSON: {exc}"))
        return outs


class VLLMEngine:
    """vLLM on a GPU node: quantized weights, multi-LoRA per task, structured outputs."""

    def __init__(self, args: StudentArgs, pack: TaskPack, source: StudentSource) -> None:
        from mkd.models.uris import resolve_model_uri
        from vllm import LLM
        from vllm.lora.request import LoRARequest

        ref = resolve_model_uri(source.base_uri)
        model = str(Path(ref.path) / ref.gguf_file) if ref.gguf_file else ref.path
        adapters = dict(source.task_adapters)
        options = {
            "dtype": args.dtype,
            "enable_lora": bool(adapters or source.adapter),
            **args.vllm,
        }
        self.llm = LLM(model=model, **options)
        self.pack, self.args, self.version = pack, args, source.version
        self.lora = {
            task: LoRARequest(f"task_{task}", i + 1, path)
            for i, (task, path) in enumerate(sorted(adapters.items()))
        }
        self.default_lora = (
            LoRARequest("default", len(self.lora) + 1, source.adapter) if source.adapter else None
        )

    def _params(self, task: Any) -> Any:
        from vllm import SamplingParams

        limit = self.args.max_new_tokens or task.max_output_tokens
        try:  # vLLM >= 0.10: structured_outputs; before: guided_decoding
            from vllm.sampling_params import StructuredOutputsParams

            return SamplingParams(
                temperature=0.0, max_tokens=limit,
                structured_outputs=StructuredOutputsParams(json=task.output_schema),
            )  # fmt: skip
        except ImportError:
            from vllm.sampling_params import GuidedDecodingParams

            return SamplingParams(
                temperature=0.0, max_tokens=limit,
                guided_decoding=GuidedDecodingParams(json=task.output_schema),
            )  # fmt: skip

    def generate(self, items: list[StudentItem]) -> list[StudentOutput]:
        tasks = [self.pack.task(i.task) for i in items]
        replies = self.llm.chat(
            [
                student_messages(self.pack, t, i.input, i.context)
                for t, i in zip(tasks, items, strict=True)
            ],
            sampling_params=[self._params(t) for t in tasks],
            lora_request=[self.lora.get(i.task, self.default_lora) for i in items],
            use_tqdm=False,
        )
        outs = []
        for item, task, reply in zip(items, tasks, replies, strict=True):
            out = StudentOutput(item.task, tokens=len(reply.outputs[0].token_ids))
            try:
                outs.append(_validated(task, out, json.loads(reply.outputs[0].text)))
            except json.JSONDecodeError as exc:
                outs.append(_failed(out, f"unparseable JSON: {exc}"))
        return outs


ENGINES = {"transformers": TransformersEngine, "llamacpp": LlamaCppEngine, "vllm": VLLMEngine}


def make_engine(args: StudentArgs, pack: TaskPack, store: Any = None) -> StudentEngine:
    """The engine `args.backend` names, with its model loaded (`store`: for registry versions)."""
    return ENGINES[args.backend](args, pack, resolve_source(args, store))


@serve.deployment(name="Student")
class Student:
    """Answers any task of the pack; concurrent requests share forwards through @serve.batch."""

    def __init__(
        self, student: dict, pack: str, tasks: list[str], store: dict | None = None
    ) -> None:
        self.args = StudentArgs.model_validate(student)
        self.pack = load_pack(pack)
        self.tasks = list(tasks)
        store_config = StoreConfig.model_validate(store) if store else None
        self.engine = make_engine(self.args, self.pack, store_config)
        self.live = StudentLiveConfig()
        self.metrics = StudentMetrics()
        # service_ms: time requests spent in this replica (batch wait + decode), summed; a
        # client that reads it around one request knows the model's share of its latency
        self.counters: dict[str, float] = {
            "batches": 0,
            "items": 0,
            "forwards": 0,
            "service_ms": 0.0,
        }
        self._batched.set_max_batch_size(self.args.max_batch_size)
        self._batched.set_batch_wait_timeout_s(self.args.batch_wait_timeout_s)
        self._warm_up()

    def _warm_up(self) -> None:
        """One answer per task: grammars and token masks are built before traffic arrives."""
        started = time.perf_counter()
        self.engine.generate(
            [StudentItem(t, "What was Apple's revenue in FY2023?") for t in self.tasks]
        )
        log.info("student warm-up took %.1fs", time.perf_counter() - started)

    def reconfigure(self, user_config: dict) -> None:
        self.live = StudentLiveConfig.model_validate(user_config or {})

    @serve.batch(max_batch_size=8, batch_wait_timeout_s=0.005)
    async def _batched(self, items: list[StudentItem]) -> list[StudentOutput]:
        self.counters["batches"] += 1
        self.counters["items"] += len(items)
        self.metrics.batch_size.observe(len(items))
        started = time.perf_counter()
        try:
            # off the event loop: health checks and new requests keep flowing while it decodes
            outs = await asyncio.to_thread(self.engine.generate, items)
        except Exception:
            self.metrics.errors.inc()
            raise
        self.metrics.batch_seconds.observe(time.perf_counter() - started)
        self.counters["forwards"] += max((o.forwards for o in outs), default=0)
        return outs

    async def _one(self, item: StudentItem) -> dict:
        started = time.perf_counter()
        try:
            return await self._answer_item(item)
        finally:
            self.counters["service_ms"] += (time.perf_counter() - started) * 1000

    async def _answer_item(self, item: StudentItem) -> dict:
        fault = self.live.fault
        if fault == "error":
            raise RuntimeError("student fault injected (user_config fault=error)")
        if fault == "slow":
            await asyncio.sleep(self.live.slow_s)
        out = await self._batched(item)
        if fault == "invalid":
            out = StudentOutput(item.task, output={"fault": "invalid"})  # the router must catch it
        return {**asdict(out), "version": self.engine.version}

    async def answer(self, task: str, query: str, context: dict | None = None) -> dict:
        """One task's answer as a dict of StudentOutput fields."""
        return await self._one(StudentItem(task, query, context))

    async def answer_many(
        self, tasks: list[str], query: str, context: dict | None = None
    ) -> list[dict]:
        """Several tasks for one query, decoded in the same batch (/v1/analyze)."""
        return list(
            await asyncio.gather(*(self._one(StudentItem(t, query, context)) for t in tasks))
        )

    def info(self) -> dict:
        """Replica identity and counters (tests check that a live reconfigure keeps the PID)."""
        ctx = serve.get_replica_context()
        return {
            "pid": os.getpid(),
            "replica": str(ctx.replica_id),
            "version": self.engine.version,
            "backend": self.args.backend,
            "fault": self.live.fault,
            **self.counters,
        }
