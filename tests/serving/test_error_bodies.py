"""Error bodies hold a message and the request id; the traceback goes to the router's log."""

from __future__ import annotations

import asyncio
import json
import logging

from starlette.requests import Request

from serving import ingress
from serving.protocol import ApiError
from serving.request_ids import current_request_id
from serving.router import RouterIngress

TRACEBACK = (
    "ray.exceptions.RayTaskError(TeacherError): ray::ServeReplica:mkd:Teacher.answer_many()\n"
    'Traceback (most recent call last):\n  File "/work/main/serving/teacher.py", line 90, in '
    "answer_many\nserving.teacher.TeacherError: teacher failed on query_classifier: down"
)


class _Method:
    def __init__(self, result) -> None:
        self.result = result

    def remote(self, *args):
        async def call():
            if isinstance(self.result, Exception):
                raise self.result
            return self.result

        return call()


class Handle:
    def __init__(self, result) -> None:
        self.answer_many = _Method(result)
        self.info = _Method(result)


def _router(student, teacher) -> RouterIngress:
    args = {"guards": {"enabled": False}, "auth": {"token_env": None}}
    args["router"] = {"user_config": {"mode": "split", "student_weight": 0.0}}
    return RouterIngress(Handle(student), Handle(teacher), args)


def _request(body: bytes, path: str = "/v1/tasks/query_classifier") -> Request:
    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    scope = {
        "type": "http", "method": "POST", "path": path, "headers": [], "query_string": b"",
    }  # fmt: skip
    return Request(scope, receive)


async def _error_body(coro, request: Request) -> tuple[int, dict]:
    current_request_id()  # fixed per request before the handler (Serve's proxy or the middleware)
    try:
        await coro
    except ApiError as exc:
        response = await ingress.api_error(request, exc)
    except Exception as exc:
        response = await ingress.unexpected(request, exc)
    else:
        raise AssertionError("no error")
    return response.status_code, json.loads(response.body)


def test_a_502_body_holds_no_traceback_or_path(caplog) -> None:
    router = _router(RuntimeError("unused"), RuntimeError(TRACEBACK))
    request = _request(b'{"input": "Apple revenue FY2023"}')

    async def go():
        return await _error_body(router.task_endpoint("query_classifier", request), request)

    with caplog.at_level(logging.ERROR, logger="ray.serve"):
        status, body = asyncio.run(go())
    assert status == 502
    error = body["error"]
    assert error["code"] == "teacher_unavailable" and error["type"] == "server_error"
    text = json.dumps(body)
    for leak in ("Traceback", "/work/", ".py", "TeacherError", "line 90"):
        assert leak not in text, leak
    rid = error["request_id"]
    assert rid and rid in error["message"]
    logged = [r for r in caplog.records if rid in r.getMessage()]
    assert logged and "Traceback" in caplog.text and "teacher.py" in caplog.text


def test_an_unexpected_error_is_a_500_with_only_the_request_id() -> None:
    request = _request(b"", path="/v1/analyze")

    async def boom():
        raise KeyError("/srv/app/secret_path.py")

    status, body = asyncio.run(_error_body(boom(), request))
    assert status == 500
    assert "secret_path" not in json.dumps(body)
    assert body["error"]["request_id"] in body["error"]["message"]


def test_rollout_status_names_no_student_traceback() -> None:
    router = _router(RuntimeError(TRACEBACK), {"output": None})
    info = asyncio.run(router._student_info())
    assert "Traceback" not in info["error"] and ".py" not in info["error"]


def test_a_4xx_body_carries_the_request_id_too() -> None:
    router = _router(RuntimeError("unused"), RuntimeError("unused"))
    request = _request(b"not json")

    async def go():
        return await _error_body(router.task_endpoint("query_classifier", request), request)

    status, body = asyncio.run(go())
    assert status == 400 and body["error"]["code"] == "invalid_json"
    assert body["error"]["request_id"]


def test_the_middleware_gives_each_request_one_id_shared_by_its_tasks() -> None:
    from serving.request_ids import RequestIdMiddleware

    seen: list[tuple[str, str]] = []

    async def app(scope, receive, send):
        async def child():
            return current_request_id()

        seen.append((current_request_id(), await asyncio.create_task(child())))

    async def go():
        for _ in range(2):
            await RequestIdMiddleware(app)({"type": "http"}, None, None)

    asyncio.run(go())
    (a, a_child), (b, b_child) = seen
    assert a == a_child and b == b_child and a != b
