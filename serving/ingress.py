"""The HTTP surface of the Router: the FastAPI app, error bodies, auth, request limits and
parsing, and the OpenAI request/response shapes. No routing: serving.answering answers.
"""

from __future__ import annotations

import hmac
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from mkd.records import canonical_json
from mkd.serve.config import LimitArgs
from mkd.tasks import TaskPack
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from serving.body import read_limited_body
from serving.protocol import ApiError, ChatRequest, ErrorResponse, TaskResponse, check_query
from serving.request_ids import RequestIdMiddleware, current_request_id
from serving.timing import ServerTimingMiddleware

log = logging.getLogger("ray.serve")
app = FastAPI(title="MKD", description="Distilled multi-task student behind a canary router.")
app.add_middleware(RequestIdMiddleware)
app.add_middleware(ServerTimingMiddleware)  # outermost: it times the rest


def error_response(exc: ApiError) -> JSONResponse:
    """The one error body (serving.protocol.ErrorResponse) with the request id."""
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    body = ErrorResponse.of(exc, current_request_id()).model_dump()
    return JSONResponse(body, status_code=exc.status, headers=headers)


@app.exception_handler(ApiError)
async def api_error(request: Request, exc: ApiError) -> JSONResponse:
    return error_response(exc)


@app.exception_handler(RequestValidationError)
async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
    where = ".".join(str(p) for p in first["loc"])
    return error_response(ApiError(422, "invalid_request", f"{where}: {first['msg']}", where))


@app.exception_handler(StarletteHTTPException)
async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    message = f"{request.method} {request.url.path}: {exc.detail}"
    return error_response(
        ApiError(exc.status_code, "not_found" if exc.status_code == 404 else "http_error", message)
    )


@app.exception_handler(Exception)
async def unexpected(request: Request, exc: Exception) -> JSONResponse:
    rid = current_request_id()
    log.error("request %s: unexpected error on %s", rid, request.url.path, exc_info=exc)
    return error_response(
        ApiError(500, "internal_error", f"internal error (request {rid}; see the router log)")
    )


def authorize(request: Request, token: str) -> None:
    """Raise a 401 unless the request carries `Authorization: Bearer <token>` (no token: open)."""
    if not token:
        return
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip(), token):
        what = "missing" if not header else "wrong"
        raise ApiError(
            401, "unauthorized", f"{what} bearer token (send Authorization: Bearer <token>)"
        )


async def read_json(request: Request, limits: LimitArgs) -> Any:
    """The request body as JSON, at most limits.max_body_bytes (4xx naming the problem)."""
    raw = await read_limited_body(request, limits.max_body_bytes)
    if not raw.strip():
        raise ApiError(
            400, "empty_body", 'request body is empty; send JSON such as {"input": "..."}'
        )
    try:
        return json.loads(raw)
    except UnicodeDecodeError:
        raise ApiError(400, "invalid_json", "request body is not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise ApiError(
            400,
            "invalid_json",
            f"request body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
        ) from None


def _pydantic_error(exc: ValidationError) -> ApiError:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "<body>"
    message = (
        "unknown field (accepted: input, context)"
        if err["type"] == "extra_forbidden"
        else err["msg"]
    )
    return ApiError(422, "invalid_request", f"{where}: {message}", where)


def parse(model: type[BaseModel], body: Any) -> Any:
    """`body` validated as `model`; a 422 naming the first bad field."""
    if not isinstance(body, dict):
        raise ApiError(
            422,
            "invalid_request",
            f"request body must be a JSON object, not {type(body).__name__}",
        )
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise _pydantic_error(exc) from None


def check_task(task: str, tasks: list[str]) -> None:
    if task not in tasks:
        raise ApiError(
            404, "unknown_task", f"unknown task {task!r}; served tasks: {', '.join(tasks)}", "task"
        )


def task_list(pack: TaskPack, tasks: list[str]) -> dict:
    """GET /v1/tasks: each served task's name, instruction and standard output schema."""
    data = [
        {
            "name": task,
            "instruction": pack.task(task).instruction,
            "output_schema": pack.task(task).standard_schema,
        }
        for task in tasks
    ]
    return {"object": "list", "data": data}


def model_list(tasks: list[str]) -> dict:
    """OpenAI model list: mkd-<task> (routed), mkd-<task>:student and mkd-<task>:teacher."""
    data = [
        {"id": f"mkd-{task}{suffix}", "object": "model", "created": 0, "owned_by": "mkd"}
        for task in tasks
        for suffix in ("", ":student", ":teacher")
    ]
    return {"object": "list", "data": data}


def chat_target(model: str, tasks: list[str]) -> tuple[str, Any]:
    """(task, forced route or None) of an OpenAI model name mkd-<task>[:student|:teacher]."""
    name, _, route = model.partition(":")
    task = name.removeprefix("mkd-")
    if not name.startswith("mkd-") or task not in tasks or route not in ("", "student", "teacher"):
        raise ApiError(
            404,
            "model_not_found",
            f"unknown model {model!r}; GET /v1/models lists mkd-<task>[:student|:teacher] for {', '.join(tasks)}",
            "model",
        )
    return task, route or None


def chat_query(body: dict, req: ChatRequest, limits: LimitArgs) -> tuple[str, dict | None]:
    """(query, context) of a chat request: the last user message; context from an extra
    `context` or `metadata`."""
    if req.stream_options is not None and not req.stream:
        raise ApiError(
            400,
            "invalid_request",
            "stream_options is only allowed with stream: true",
            "stream_options",
        )
    users = [m.content for m in req.messages if m.role == "user" and m.content is not None]
    if not users:
        raise ApiError(422, "invalid_request", "messages: no user message with content", "messages")
    context = body.get("context") or req.metadata or None
    if context is not None and not isinstance(context, dict):
        raise ApiError(422, "invalid_request", "context must be an object", "context")
    check_query(limits, users[-1], context, field="messages[-1].content")
    return users[-1], context


def chat_completion(model: str, result: TaskResponse) -> dict:
    """An OpenAI chat.completion carrying the answer's canonical JSON and MKD's own fields."""
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": canonical_json(result.output)},
            "finish_reason": "stop",
        }],
        "usage": result.usage.model_dump(),
        "mkd": result.model_dump(),
    }  # fmt: skip


def chat_chunks(model: str, result: TaskResponse, include_usage: bool) -> list[dict]:
    """The answer as OpenAI chat.completion.chunk objects: the role, the content in one delta
    (the constrained decode is finished before the first chunk), the finish reason with MKD's
    fields, and with `include_usage` a last chunk with no choices and the usage (the other
    chunks then carry `usage: null`, as OpenAI's do)."""
    head = {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
    }
    extra = {"usage": None} if include_usage else {}

    def choice(delta: dict, finish_reason: str | None = None) -> dict:
        choices = [{"index": 0, "delta": delta, "finish_reason": finish_reason}]
        return {**head, "choices": choices, **extra}

    chunks = [
        choice({"role": "assistant", "content": ""}),
        choice({"content": canonical_json(result.output)}),
        {**choice({}, "stop"), "mkd": result.model_dump()},
    ]
    if include_usage:
        chunks.append({**head, "choices": [], "usage": result.usage.model_dump()})
    return chunks


def chat_stream(model: str, result: TaskResponse, include_usage: bool) -> StreamingResponse:
    """chat_chunks as server-sent events, ended by `data: [DONE]` (what OpenAI's SDKs read)."""

    async def events() -> AsyncIterator[str]:
        for chunk in chat_chunks(model, result, include_usage):
            yield f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n"
        yield "data: [DONE]\n\n"

    # no-cache and no proxy buffering: the events reach the client as they are written
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)
