"""vLLM's async engine for serving (the `gpu-serve` extra): every item is its own request to one
`AsyncLLM`, which batches whatever is in flight at each step (continuous batching), so a
request never waits for another caller's batch to finish and a short answer leaves the batch as
soon as it is done.

What this relies on in vLLM and Ray (read in their sources, December 2026):
- vllm `vllm/v1/engine/async_llm.py` (`AsyncLLM`, what `vllm.AsyncLLMEngine` names since the V1
  engine): `from_engine_args(AsyncEngineArgs(...))`; `generate(prompt, sampling_params,
  request_id, *, lora_request=None)` is an async generator of `RequestOutput`s, and closing or
  cancelling it aborts the request; its output handler task lives on the event loop that built
  the engine (or that sent the first request); `get_tokenizer()` is a coroutine in older
  releases and a plain method in newer ones.
- vllm `vllm/sampling_params.py`: `StructuredOutputsParams(json=schema)` on
  `SamplingParams.structured_outputs` (0.10.2+; `GuidedDecodingParams` on `guided_decoding`
  before 0.12), `RequestOutputKind.FINAL_ONLY` (one output per request, when it finishes).
- vllm `vllm/lora/request.py`: `LoRARequest(lora_name, lora_int_id, lora_path)` per request.
- Ray 2.60 `python/ray/llm/_internal/serve/engines/vllm/vllm_engine.py`: Ray Serve LLM builds one
  `AsyncLLM` per replica and hands every request straight to it (no `@serve.batch`);
  `core/server/llm_server.py` takes the engine class by injection and forwards `check_health`.

The engine runs on an event loop of its own (a daemon thread): the Serve replica's loop, a sync
caller (`generate`, the warm-up) and tests all reach the one loop the AsyncLLM was built on.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import itertools
import threading
import time
from collections.abc import AsyncIterator, Coroutine, Sequence
from typing import Any, TypeVar

from mkd.inference.base import (
    EngineItem,
    EngineOutput,
    EngineSpec,
    known_task,
    messages_for,
    require,
)
from mkd.inference.vllm_engine import (
    EXTRA,
    engine_options,
    lora_requests,
    model_path,
    sampling_params,
    to_output,
)
from mkd.tasks import TaskPack

T = TypeVar("T")


class EngineLoop:
    """An asyncio event loop running in a daemon thread, for an engine bound to one loop."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` on the loop and wait for it here (never from the loop's own thread)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await `coro` on the loop from another loop; cancelling this cancels it there."""
        future: concurrent.futures.Future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return await asyncio.wrap_future(future)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)


def build_async_llm(spec: EngineSpec) -> Any:
    """The AsyncLLM `spec` describes (call it on the loop that will drive it)."""
    from vllm.engine.arg_utils import AsyncEngineArgs

    try:
        from vllm.v1.engine.async_llm import AsyncLLM
    except ImportError:  # a release without the V1 engine
        from vllm import AsyncLLMEngine as AsyncLLM
    return AsyncLLM.from_engine_args(
        AsyncEngineArgs(model=model_path(spec), **engine_options(spec))
    )


async def engine_tokenizer(engine: Any) -> Any:
    """The engine's tokenizer, whether `get_tokenizer` is a coroutine (older vLLM) or not."""
    tokenizer = engine.get_tokenizer()
    return await tokenizer if inspect.isawaitable(tokenizer) else tokenizer


async def last(stream: AsyncIterator[T]) -> T | None:
    """The last item of an async stream (a request's final output), None when it is empty."""
    item = None
    async for item in stream:  # noqa: B007 - only the last one is wanted
        pass
    return item


class AsyncVLLMEngine:
    """One vLLM `AsyncLLM` in this process (one per Serve replica / GPU set).

    `agenerate` submits every item as its own request at once and returns when all are done;
    each output carries its own latency and the RequestOutput's token counts. An engine error
    on one request is that item's error; the others are unaffected.

    Args:
        spec: as for VLLMEngine; `options` are AsyncEngineArgs (max_num_seqs bounds the
            requests decoded together, gpu_memory_utilization, max_lora_rank...).
        pack: the task pack.
        engine: an already built AsyncLLM (tests, or one engine shared between callers); it is
            driven from this engine's own event loop.

    Raises:
        EngineUnavailable: vllm is not installed (pip install 'mkd[gpu-serve]', GPU nodes only).
    """

    backend = "vllm-async"

    def __init__(self, spec: EngineSpec, pack: TaskPack, engine: Any = None) -> None:
        require("vllm", self.backend, EXTRA)
        self.spec, self.pack = spec, pack
        self.version = spec.version or spec.model_uri
        self.lora, self.default_lora = lora_requests(spec)
        self._request_ids = itertools.count()
        self._loop = EngineLoop("mkd-vllm-engine")
        try:
            self.engine = self._loop.call(self._start(engine))
            self.tokenizer = self._loop.call(engine_tokenizer(self.engine))
        except BaseException:  # a failed load leaves no thread behind
            self._loop.close()
            raise

    async def _start(self, engine: Any) -> Any:
        # built inside the loop: AsyncLLM starts its output handler on the running loop
        return engine if engine is not None else build_async_llm(self.spec)

    async def agenerate(self, items: Sequence[EngineItem]) -> list[EngineOutput]:
        """Answer `items` from any event loop, each as its own engine request.

        Cancelling the call (a client gone, the Router's timeout) aborts its requests.
        """
        return await self._loop.run(self._answer_all(list(items)))

    def generate(self, items: Sequence[EngineItem]) -> list[EngineOutput]:
        """The Engine protocol's blocking call (warm-up, scripts): the same requests as agenerate."""
        return self._loop.call(self._answer_all(list(items)))

    async def check_health(self) -> None:
        """Raise when the engine is dead (Serve then restarts the replica), as Ray Serve LLM does."""
        check = getattr(self.engine, "check_health", None)
        if check is not None:
            await self._loop.run(check())

    def close(self) -> None:
        shutdown = getattr(self.engine, "shutdown", None)
        if shutdown is not None:
            shutdown()
        self._loop.close()

    async def _answer_all(self, items: list[EngineItem]) -> list[EngineOutput]:
        refused = [known_task(self.pack, item) for item in items]
        runnable = [i for i, out in enumerate(refused) if out is None]
        answers = await asyncio.gather(*(self._request(items[i]) for i in runnable))
        outs = dict(zip(runnable, answers, strict=True))
        return [outs[i] if i in outs else refused[i] for i in range(len(items))]

    async def _request(self, item: EngineItem) -> EngineOutput:
        """One item as one engine request; any failure of it is the item's error."""
        task = self.pack.task(item.task)
        started = time.perf_counter()
        request_id = f"{item.id or 'mkd'}-{next(self._request_ids)}"
        lora = self.lora.get(task.name, self.default_lora)
        try:
            stream = self.engine.generate(
                self._prompt(task, item), self._params(task), request_id, lora_request=lora
            )
            final = await last(stream)
            problem = None if final is not None else "no output"
        except Exception as exc:
            final, problem = None, f"{type(exc).__name__}: {exc}".rstrip(": ")
        latency = time.perf_counter() - started
        if problem:
            error = f"vllm request {request_id}: {problem}"
            return EngineOutput(task.name, error=error, latency_s=latency)
        return to_output(task, final, latency, batch_size=1)

    def _prompt(self, task: Any, item: EngineItem) -> dict[str, list[int]]:
        """Token ids of the chat prompt, tokenized as training does (mkd.models.loading)."""
        from mkd.models.loading import chat_prompt_ids

        messages = messages_for(self.pack, task, item, self.spec.prompt)
        return {"prompt_token_ids": chat_prompt_ids(self.tokenizer, messages)}

    def _params(self, task: Any) -> Any:
        from vllm.sampling_params import RequestOutputKind

        # FINAL_ONLY: one RequestOutput when the answer is complete, not one per token
        return sampling_params(self.spec, task, output_kind=RequestOutputKind.FINAL_ONLY)
