"""A stand-in for the `vllm` package, for tests on machines where vLLM cannot run (no CUDA: it
cannot even be installed here). It has only the parts of vLLM's API that mkd.inference's vLLM
engines call, with the names, signatures and behaviour read in vLLM's sources:

- `vllm.v1.engine.async_llm.AsyncLLM` (also `vllm.AsyncLLMEngine`): `from_engine_args`,
  `generate(prompt, sampling_params, request_id, *, lora_request=None)` as an async generator
  of `RequestOutput`s (one per step, or only the final one with `RequestOutputKind.FINAL_ONLY`),
  a request aborted when its generator is cancelled or closed, the output handler bound to the
  event loop the engine was built on (or that sent the first request), `get_tokenizer`
  (a coroutine in older releases), `check_health`, `shutdown`;
- `vllm.sampling_params`: `SamplingParams`, `StructuredOutputsParams` (>= 0.10.2) or
  `GuidedDecodingParams` (older), `RequestOutputKind`;
- `vllm.lora.request.LoRARequest`, `vllm.engine.arg_utils.AsyncEngineArgs`, `vllm.LLM.chat`.

The model is scripted: the answer is ANSWERS[task tag] (the tag is the prompt's last line), a
query holding "slow" takes SLOW_S ("stall": STALL_S), one holding "boom" fails inside the engine, and every
request is recorded (`AsyncLLM.requests`, `.finished`, `.aborted`). Tokens are characters.
"""

from __future__ import annotations

import asyncio
import enum
import json
import sys
import time
import types
from dataclasses import dataclass, field
from typing import Any

ANSWERS = {
    "query_classifier": '{"category":"LOOKUP"}',
    "currency_identifier": '{"mention":"none","currency":"nonsense","symbol":null}',  # invalid
}
ANSWER_TOKEN_CHARS = 4  # answer characters per output token
SLOW_S = 0.6
STALL_S = 5.0  # "stall": long enough to tell across Ray's request overhead on a busy machine
FAST_S = 0.01


class RequestOutputKind(enum.Enum):
    CUMULATIVE = 0
    DELTA = 1
    FINAL_ONLY = 2


@dataclass
class StructuredOutputsParams:
    json: str | dict | None = None
    regex: str | None = None
    choice: list[str] | None = None
    grammar: str | None = None
    json_object: bool | None = None
    disable_any_whitespace: bool = False
    disable_additional_properties: bool = False
    whitespace_pattern: str | None = None
    structural_tag: str | None = None


@dataclass
class GuidedDecodingParams:
    json: str | dict | None = None
    regex: str | None = None
    choice: list[str] | None = None
    grammar: str | None = None
    json_object: bool | None = None
    backend: str | None = None
    whitespace_pattern: str | None = None


class SamplingParams:
    """The fields the engines set; the constraint field is the one this release has."""

    constraint_field = "structured_outputs"

    def __init__(
        self,
        temperature: float = 1.0,
        max_tokens: int | None = 16,
        output_kind: RequestOutputKind = RequestOutputKind.CUMULATIVE,
        **constraint: Any,
    ) -> None:
        unknown = set(constraint) - {self.constraint_field}
        if unknown:
            raise TypeError(f"SamplingParams got unexpected keyword arguments {sorted(unknown)}")
        self.temperature, self.max_tokens, self.output_kind = temperature, max_tokens, output_kind
        self.structured_outputs = constraint.get("structured_outputs")
        self.guided_decoding = constraint.get("guided_decoding")


@dataclass
class LoRARequest:
    lora_name: str
    lora_int_id: int
    lora_path: str = ""


@dataclass
class AsyncEngineArgs:
    model: str
    options: dict[str, Any] = field(default_factory=dict)

    def __init__(self, model: str, **options: Any) -> None:
        self.model, self.options = model, options


@dataclass
class CompletionOutput:
    index: int
    text: str
    token_ids: list[int]
    cumulative_logprob: float | None = None
    logprobs: Any = None
    finish_reason: str | None = None


@dataclass
class RequestOutput:
    request_id: str
    prompt: str | None
    prompt_token_ids: list[int]
    prompt_logprobs: Any
    outputs: list[CompletionOutput]
    finished: bool


def completion(answer: str, max_tokens: int | None, steps: int | None = None) -> CompletionOutput:
    """The answer cut at max_tokens (finish_reason "length"), or its first `steps` tokens."""
    tokens = -(-len(answer) // ANSWER_TOKEN_CHARS)
    kept = min(tokens, max_tokens or tokens, steps or tokens)
    text = answer[: kept * ANSWER_TOKEN_CHARS]
    done = steps is None or kept == min(tokens, max_tokens or tokens)
    reason = ("stop" if kept == tokens else "length") if done else None
    return CompletionOutput(0, text, list(range(2, kept + 2)), finish_reason=reason)


class Tokenizer:
    """Prompt characters as tokens; a plain chat template ending in the assistant's turn."""

    def apply_chat_template(
        self, messages: list[dict], tokenize: bool = False, add_generation_prompt: bool = False
    ) -> Any:
        text = "".join(f"<{m['role']}>{m['content']}</{m['role']}>" for m in messages)
        text += "<assistant>" if add_generation_prompt else ""
        return self(text)["input_ids"] if tokenize else text

    def __call__(self, text: str, add_special_tokens: bool = True) -> dict[str, list[int]]:
        return {"input_ids": ([1] if add_special_tokens else []) + [ord(c) for c in text]}

    def decode(self, ids: list[int]) -> str:
        return "".join(chr(i) for i in ids if i > 1)


def task_tag(prompt_text: str) -> str:
    """The task tag of a student prompt: the last line of the user turn."""
    user = prompt_text.rsplit("<user>", 1)[-1].split("</user>", 1)[0]
    return user.rsplit("\n", 1)[-1]


class AsyncLLM:
    """One fake engine; every instance records its requests."""

    tokenizer_is_async = False  # older vLLM: `async def get_tokenizer`

    def __init__(self, args: AsyncEngineArgs | None = None) -> None:
        self.args = args
        self.requests: list[dict[str, Any]] = []
        self.finished: list[tuple[str, float]] = []
        self.aborted: list[str] = []
        self.dead = False
        self.shut_down = False
        self.tokenizer = Tokenizer()
        try:  # AsyncLLM starts its output handler on the running loop, if there is one
            self.loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            self.loop = None

    @classmethod
    def from_engine_args(cls, engine_args: AsyncEngineArgs, **_: Any) -> AsyncLLM:
        return cls(engine_args)

    def get_tokenizer(self) -> Any:
        if self.tokenizer_is_async:

            async def tokenizer() -> Tokenizer:
                return self.tokenizer

            return tokenizer()
        return self.tokenizer

    async def check_health(self) -> None:
        if self.dead:
            raise RuntimeError("EngineDeadError (fake)")

    def shutdown(self) -> None:
        self.shut_down = True

    async def generate(
        self,
        prompt: dict[str, list[int]],
        sampling_params: SamplingParams,
        request_id: str,
        *,
        lora_request: LoRARequest | None = None,
        **_: Any,
    ):
        self._check_loop()
        text = self.tokenizer.decode(prompt["prompt_token_ids"])
        self.requests.append(
            {
                "request_id": request_id,
                "prompt": text,
                "params": sampling_params,
                "lora_request": lora_request,
                "submitted": time.perf_counter(),
            }
        )
        try:
            if "boom" in text:
                raise RuntimeError("CUDA error: an illegal memory access (fake)")
            answer = ANSWERS.get(task_tag(text), "{}")
            final = completion(answer, sampling_params.max_tokens)
            await asyncio.sleep(
                STALL_S if "stall" in text else SLOW_S if "slow" in text else FAST_S
            )
            steps = range(1, len(final.token_ids) + 1)
            if sampling_params.output_kind == RequestOutputKind.FINAL_ONLY:
                steps = [None]
            for n in steps:
                out = completion(answer, sampling_params.max_tokens, n)
                done = out.finish_reason is not None
                ids = prompt["prompt_token_ids"]
                yield RequestOutput(request_id, None, ids, None, [out], done)
            self.finished.append((request_id, time.perf_counter()))
        except (asyncio.CancelledError, GeneratorExit):
            self.aborted.append(request_id)
            raise

    def _check_loop(self) -> None:
        loop = asyncio.get_running_loop()
        if self.loop is None:
            self.loop = loop
        elif loop is not self.loop:
            raise RuntimeError("AsyncLLM driven from another event loop than its output handler's")


class LLM:
    """The offline engine: `chat` answers a whole batch at once."""

    def __init__(self, model: str = "", **options: Any) -> None:
        self.model, self.options = model, options
        self.tokenizer = Tokenizer()
        self.calls: list[dict[str, Any]] = []

    def chat(
        self, messages: list, sampling_params: list, use_tqdm: bool = True, lora_request: Any = None
    ) -> list:
        self.calls.append(
            {"messages": messages, "params": sampling_params, "lora_request": lora_request}
        )
        outs = []
        for i, (conversation, params) in enumerate(zip(messages, sampling_params, strict=True)):
            ids = self.tokenizer(
                self.tokenizer.apply_chat_template(conversation, add_generation_prompt=True),
                add_special_tokens=False,
            )["input_ids"]
            answer = ANSWERS.get(task_tag(self.tokenizer.decode(ids)), "{}")
            out = completion(answer, params.max_tokens)
            outs.append(RequestOutput(str(i), None, ids, None, [out], True))
        return outs


def build(
    *, structured_outputs: bool = True, async_tokenizer: bool = False
) -> dict[str, types.ModuleType]:
    """The fake `vllm` package as sys.modules entries.

    Args:
        structured_outputs: True: a release with StructuredOutputsParams (0.10.2+); False: an
            older one with GuidedDecodingParams on SamplingParams.guided_decoding.
        async_tokenizer: AsyncLLM.get_tokenizer is a coroutine (older releases).
    """
    names = [
        "vllm",
        "vllm.sampling_params",
        "vllm.lora",
        "vllm.lora.request",
        "vllm.engine",
        "vllm.engine.arg_utils",
        "vllm.v1",
        "vllm.v1.engine",
        "vllm.v1.engine.async_llm",
    ]
    mods = {name: types.ModuleType(name) for name in names}
    params = type(
        "SamplingParams",
        (SamplingParams,),
        {"constraint_field": "structured_outputs" if structured_outputs else "guided_decoding"},
    )
    engine = type("AsyncLLM", (AsyncLLM,), {"tokenizer_is_async": async_tokenizer})
    sp = mods["vllm.sampling_params"]
    sp.SamplingParams, sp.RequestOutputKind = params, RequestOutputKind
    if structured_outputs:
        sp.StructuredOutputsParams = StructuredOutputsParams
    else:
        sp.GuidedDecodingParams = GuidedDecodingParams
    mods["vllm.lora.request"].LoRARequest = LoRARequest
    mods["vllm.engine.arg_utils"].AsyncEngineArgs = AsyncEngineArgs
    mods["vllm.v1.engine.async_llm"].AsyncLLM = engine
    top = mods["vllm"]
    top.SamplingParams, top.AsyncLLMEngine, top.LLM, top.__version__ = (
        params,
        engine,
        LLM,
        "0.0-fake",
    )
    for name, mod in mods.items():  # parents expose their children, as imports do
        parent, _, child = name.rpartition(".")
        if parent:
            setattr(mods[parent], child, mod)
    return mods


def install(**variant: Any) -> type:
    """Put the fake `vllm` in sys.modules (where no real one is) and return its AsyncLLM class.

    Tests use pytest's monkeypatch instead (undone after each test); a Ray replica, a process of
    its own, calls this before building the engine.
    """
    mods = build(**variant)
    sys.modules.update(mods)
    return mods["vllm.v1.engine.async_llm"].AsyncLLM


def answer_of(task: str) -> Any:
    return json.loads(ANSWERS[task])
