"""Request and response models of the HTTP API, and the one error model every 4xx/5xx uses."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# shed: student-routed, answered by the teacher because the Student was full (not a failure)
Route = Literal["student", "teacher", "fallback", "shed"]


class ApiError(Exception):
    """An error the router turns into `ErrorResponse` with `status`."""

    def __init__(self, status: int, code: str, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.param = status, code, message, param


class ErrorBody(BaseModel):
    message: str = Field(description="What is wrong and what would be accepted.")
    type: str = Field(description="invalid_request_error, authentication_error, ...")
    code: str = Field(description="Machine-readable reason, e.g. input_too_long.")
    param: str | None = Field(None, description="The offending field, when there is one.")
    request_id: str | None = Field(
        None, description="The request's id (X-Request-Id); the server log holds details under it."
    )


class ErrorResponse(BaseModel):
    """The single error shape (OpenAI-compatible, so the openai SDK surfaces the message)."""

    error: ErrorBody

    @classmethod
    def of(cls, exc: ApiError, request_id: str | None = None) -> ErrorResponse:
        kind = {401: "authentication_error", 404: "not_found_error", 413: "request_too_large"}
        return cls(
            error=ErrorBody(
                message=exc.message,
                type=kind.get(
                    exc.status, "invalid_request_error" if exc.status < 500 else "server_error"
                ),
                code=exc.code,
                param=exc.param,
                request_id=request_id,
            )
        )


class TaskRequest(BaseModel):
    """POST /v1/tasks/{task} and /v1/analyze."""

    model_config = ConfigDict(extra="forbid")

    input: str = Field(description="The user's query, as typed.")
    context: dict[str, Any] | None = Field(
        None, description='Facts such as {"as_of": "2026-01-15"}.'
    )


class Usage(BaseModel):
    """Tokens one answer cost, as OpenAI's `usage` counts them: the prompt the answering model
    read and the answer it wrote, each counted by that model's tokenizer."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0

    @classmethod
    def of(cls, answer: dict) -> Usage:
        """The counts a Student or Teacher answer carries (0 where a backend counts none)."""
        prompt = int(answer.get("prompt_tokens") or 0)
        completion = int(answer.get("completion_tokens") or 0)
        return cls(
            prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion
        )


class TaskResponse(BaseModel):
    task: str
    output: Any = Field(description="The answer: a JSON value valid against the task's schema.")
    model: str
    version: str
    route: Route
    latency_ms: float
    # Reported where OpenAI clients look for it (chat completions' `usage`); the task and
    # analyze bodies keep their documented shape.
    usage: Usage = Field(default_factory=Usage, exclude=True)


class AnalyzeResponse(BaseModel):
    input: str
    results: dict[str, TaskResponse]
    latency_ms: float


class ChatMessage(BaseModel):
    role: str
    content: str | None = None


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")

    include_usage: bool = Field(
        False, description="Send a last chunk with the request's usage (choices empty)."
    )


class ChatRequest(BaseModel):
    """The subset of OpenAI's chat completion request this server honours (the rest is ignored)."""

    model_config = ConfigDict(extra="allow")

    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    user: str | None = None
    metadata: dict[str, Any] | None = None
    stream: bool | None = Field(
        None, description="Answer as server-sent chat.completion.chunk events, then [DONE]."
    )
    stream_options: StreamOptions | None = None


def check_query(limits: Any, query: str, context: Any, field: str = "input") -> None:
    """Refuse an empty or oversized query and a context that breaks the limits (ApiError).

    Args:
        limits: mkd.serve.config.LimitArgs.
        query: the text to answer.
        context: the request's context object (None when absent).
        field: how the query is named in messages (input, messages[-1].content).
    """
    if not query.strip():
        raise ApiError(400, "empty_input", f"{field} is empty; send the query text", field)
    if len(query) > limits.max_input_chars:
        raise ApiError(
            413, "input_too_long",
            f"{field} has {len(query)} characters; the limit is {limits.max_input_chars} (limits.max_input_chars)",
            field,
        )  # fmt: skip
    if context is not None and not isinstance(context, dict):
        raise ApiError(422, "invalid_context", "context must be a JSON object", "context")
    context = context or {}
    if len(context) > limits.max_context_keys:
        raise ApiError(
            422, "context_too_large",
            f"context has {len(context)} keys; the limit is {limits.max_context_keys}", "context",
        )  # fmt: skip
    for name in limits.required_context:
        if context.get(name) in (None, ""):
            raise ApiError(
                422, "missing_context",
                f"context.{name} is required (limits.required_context)", f"context.{name}",
            )  # fmt: skip
    if "as_of" in context and (problem := validate_as_of(context["as_of"])):
        raise ApiError(422, "invalid_context", problem, "context.as_of")


def validate_as_of(value: Any) -> str | None:
    """An error message when context.as_of is not an ISO date (YYYY-MM-DD), else None."""
    if not isinstance(value, str):
        return "context.as_of must be a string YYYY-MM-DD"
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return f"context.as_of must be an ISO date YYYY-MM-DD, got {value!r}"
    if len(value) != 10:
        return f"context.as_of must be an ISO date YYYY-MM-DD, got {value!r}"
    return None
