"""The HTTP surface of the Router: the FastAPI app, error bodies, auth, request limits and
parsing, and the OpenAI request/response shapes. No routing: serving.answering answers.
"""

from __future__ import annotations

import hmac
import json
import logging
import time
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from mkd.records import canonical_json
from mkd.serve.config import LimitArgs
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
    if body.get("stream"):
        raise ApiError(
            400,
            "stream_unsupported",
            "stream=true is not supported; answers are short JSON",
            "stream",
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
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        "mkd": result.model_dump(),
    }  # fmt: skip
