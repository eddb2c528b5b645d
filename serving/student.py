"""The `Student` Serve deployment over an mkd.inference engine, and what it loads.

The engine (transformers + MKD's constrained decoder, llama.cpp or vLLM; mkd.inference) answers
(task, query, context) items with the SAME short prompt training uses, constrained to the task's
JSON Schema, and validates each answer: an invalid one comes back as an error, never as an
output. The CPU engines decode in static batches that @serve.batch gathers from concurrent
requests; an engine with an async path (mkd.inference.AsyncEngine: vLLM's AsyncLLM) gets every
request as it arrives and batches continuously itself, as Ray Serve LLM's LLMServer drives it.
The deployment takes the engine class by injection (`engine_cls`, as Ray Serve LLM's
`LLMServer(engine_cls=...)`), so tests run it on a fake engine.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mkd.config.store import StoreConfig
from mkd.inference import (
    AsyncEngine,
    Engine,
    EngineItem,
    EngineOutput,
    EngineSpec,
    serving_engine_class,
)
from mkd.serve.config import StudentArgs, StudentLiveConfig
from mkd.tasks import TaskPack, load_pack
from ray import serve

from serving.metrics import StudentMetrics

log = logging.getLogger("ray.serve")


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


def engine_spec(args: StudentArgs, source: StudentSource) -> EngineSpec:
    """The engine settings a student section and its resolved files make."""
    options = {"transformers": {}, "llamacpp": args.llamacpp, "vllm": args.vllm}[args.backend]
    return EngineSpec(
        backend=args.backend,
        model_uri=source.base_uri,
        adapter=source.adapter,
        task_adapters=dict(source.task_adapters),
        version=source.version,
        dtype=args.dtype,
        quantization=args.quantization if args.backend == "transformers" else None,
        runtime=args.runtime,
        # one adapter is folded into the weights (the lean runtime's fused projections need
        # it, and it spares a LoRA matmul per layer); per-task adapters stay separate
        merge_adapter=bool(source.adapter) and not source.task_adapters,
        max_new_tokens=args.max_new_tokens,
        threads=args.torch_threads,
        jump_forward=args.jump_forward,
        copy_spans=args.copy_spans,
        options=dict(options),
    )


def student_engine(
    args: StudentArgs, pack: TaskPack, store: Any = None, engine_cls: type | None = None
) -> Engine:
    """The student's engine with its model loaded (`store`: for registry versions).

    Args:
        engine_cls: the engine class to build (tests inject a fake); None: the class
            mkd.inference serves `args.backend` with (serving_engine_class: vLLM's async engine
            for `vllm`).
    """
    cls = engine_cls or serving_engine_class(args.backend)
    return cls(engine_spec(args, resolve_source(args, store)), pack)


@serve.deployment(name="Student")
class Student:
    """Answers any task of the pack. Concurrent requests share forwards through @serve.batch
    (CPU engines) or through the engine's own continuous batching (an AsyncEngine: each request
    is awaited on its own, none waits for another's batch).

    Args:
        student: the student section (mkd.serve.config.StudentArgs), as a dict.
        pack: the task pack's name.
        tasks: the tasks to warm up.
        store: the store holding the registry (StoreConfig as a dict), for `version`.
        engine_cls: the engine class (mkd.inference.Engine built as cls(spec, pack)); None:
            the one registered under `student.backend`.
    """

    def __init__(
        self,
        student: dict,
        pack: str,
        tasks: list[str],
        store: dict | None = None,
        engine_cls: type | None = None,
    ) -> None:
        self.args = StudentArgs.model_validate(student)
        self.pack = load_pack(pack)
        self.tasks = list(tasks)
        store_config = StoreConfig.model_validate(store) if store else None
        self.engine = student_engine(self.args, self.pack, store_config, engine_cls)
        self.continuous = isinstance(self.engine, AsyncEngine)
        self.live = StudentLiveConfig()
        self.metrics = StudentMetrics()
        # batches: engine calls (one per request on the continuous path); service_ms: time
        # requests spent in this replica (batch wait + decode), summed; a client that reads it
        # around one request knows the model's share of its latency
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
            [EngineItem(t, "What was Apple's revenue in FY2023?") for t in self.tasks]
        )
        log.info("student warm-up took %.1fs", time.perf_counter() - started)

    def reconfigure(self, user_config: dict) -> None:
        self.live = StudentLiveConfig.model_validate(user_config or {})

    async def check_health(self) -> None:
        """Serve's health check: an engine that can tell (vLLM's) says whether it is alive."""
        check = getattr(self.engine, "check_health", None)
        if check is not None:
            await check()

    @serve.batch(max_batch_size=8, batch_wait_timeout_s=0.005)
    async def _batched(self, items: list[EngineItem]) -> list[EngineOutput]:
        return await self._decode(items)

    async def _engine_answer(self, item: EngineItem) -> EngineOutput:
        if self.continuous:  # straight to the engine: no batch to wait for or behind
            (out,) = await self._decode([item])
            return out
        return await self._batched(item)

    async def _decode(self, items: list[EngineItem]) -> list[EngineOutput]:
        """One engine call, counted and timed."""
        self.counters["batches"] += 1
        self.counters["items"] += len(items)
        self.metrics.batch_size.observe(len(items))
        started = time.perf_counter()
        try:
            if self.continuous:
                outs = await self.engine.agenerate(items)
            else:
                # off the event loop: health checks and new requests flow while it decodes
                outs = await asyncio.to_thread(self.engine.generate, items)
        except Exception:
            self.metrics.errors.inc()
            raise
        self.metrics.batch_seconds.observe(time.perf_counter() - started)
        self.counters["forwards"] += max((o.forwards for o in outs), default=0)
        return outs

    async def _one(self, item: EngineItem) -> dict:
        started = time.perf_counter()
        try:
            return await self._answer_item(item)
        finally:
            self.counters["service_ms"] += (time.perf_counter() - started) * 1000

    async def _answer_item(self, item: EngineItem) -> dict:
        fault = self.live.fault
        if fault == "error":
            raise RuntimeError("student fault injected (user_config fault=error)")
        if fault == "slow":
            await asyncio.sleep(self.live.slow_s)
        answer = student_answer(await self._engine_answer(item))
        if fault == "invalid":  # the router must catch it
            answer.update(output={"fault": "invalid"}, error=None)
        return {**answer, "version": self.engine.version}

    async def answer(self, task: str, query: str, context: dict | None = None) -> dict:
        """One task's answer: {task, output, error, forwards, prompt_tokens, completion_tokens,
        version}."""
        return await self._one(EngineItem(task, query, context))

    async def answer_many(
        self, tasks: list[str], query: str, context: dict | None = None
    ) -> list[dict]:
        """Several tasks for one query, decoded together (/v1/analyze): in one @serve.batch
        batch, or as concurrent requests that share the prompt prefix in vLLM's cache."""
        return list(
            await asyncio.gather(*(self._one(EngineItem(t, query, context)) for t in tasks))
        )

    def info(self) -> dict:
        """Replica identity and counters (tests check that a live reconfigure keeps the PID)."""
        ctx = serve.get_replica_context()
        return {
            "pid": os.getpid(),
            "replica": str(ctx.replica_id),
            "version": self.engine.version,
            "backend": self.engine.backend,
            "runtime": getattr(self.engine, "runtime", self.engine.backend),
            "fault": self.live.fault,
            **self.counters,
        }


def student_answer(out: EngineOutput) -> dict[str, Any]:
    """What the Router receives: the valid answer or the error (never both), and its cost
    (tokens as the engine's tokenizer counts the prompt and the answer text: the `usage`)."""
    return {
        "task": out.task,
        "output": out.output,
        "error": out.problem,
        "forwards": out.forwards,
        "prompt_tokens": out.prompt_tokens,
        "completion_tokens": out.output_tokens,
    }
