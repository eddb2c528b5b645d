"""/v1/chat/completions' usage and streaming, and GET /v1/tasks, on the real RouterIngress.

Student and teacher are in-process stand-ins for the deployment handles (no Ray: the cluster
tests are in test_api_integration.py); the official `openai` SDK reads the Router's responses
through an httpx MockTransport that hands each request to the Router.
"""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from starlette.requests import Request

from serving import ingress
from serving.protocol import ApiError
from serving.router import RouterIngress

CATEGORY = {"category": "COMPARE"}


class Handle:
    """A DeploymentHandle stand-in: `answer_many.remote(...)` returns an awaitable."""

    def __init__(self, answer: dict) -> None:
        outer = self
        self.answer = answer

        class _Method:
            def remote(self, tasks, query, context=None):
                async def call():
                    return [dict(outer.answer) for _ in tasks]

                return call()

        self.answer_many = _Method()
        self.info = _Method()


def student_answer(output, prompt_tokens=41, completion_tokens=7) -> dict:
    return {
        "output": output, "error": None, "version": "tiny", "forwards": 2,
        "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
    }  # fmt: skip


TEACHER = {
    "output": CATEGORY, "version": "reference/1.1", "latency_ms": 1.0,
    "prompt_tokens": 900, "completion_tokens": 9,
}  # fmt: skip


def make_router(student: dict, weight: float = 1.0) -> RouterIngress:
    args = {"guards": {"enabled": False}, "auth": {"token_env": None}}
    args["router"] = {"user_config": {"mode": "split", "student_weight": weight}}
    return RouterIngress(Handle(student), Handle(TEACHER), args)


def http_request(body: dict | bytes, path: str = "/v1/chat/completions") -> Request:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()

    async def receive():
        return {"type": "http.request", "body": raw, "more_body": False}

    scope = {"type": "http", "method": "POST", "path": path, "headers": [], "query_string": b""}
    return Request(scope, receive)


def chat(router: RouterIngress, **body) -> dict:
    body = {"model": "mkd-query_classifier", "messages": [{"role": "user", "content": "q"}], **body}
    return asyncio.run(router.chat(http_request(body)))


def sse_events(router: RouterIngress, **body) -> tuple[str, list[str]]:
    """The streamed response's media type and its `data:` payloads, in order."""

    async def go():
        response = await router.chat(http_request({
            "model": "mkd-query_classifier", "messages": [{"role": "user", "content": "q"}],
            "stream": True, **body,
        }))  # fmt: skip
        text = "".join([part async for part in response.body_iterator])
        return response.media_type, text

    media_type, text = asyncio.run(go())
    assert text.endswith("\n\n")
    events = [block for block in text.split("\n\n") if block]
    assert all(e.startswith("data: ") for e in events)
    return media_type, [e.removeprefix("data: ") for e in events]


def test_usage_is_the_students_token_counts() -> None:
    reply = chat(make_router(student_answer(CATEGORY, 41, 7)))
    assert reply["usage"] == {"prompt_tokens": 41, "completion_tokens": 7, "total_tokens": 48}
    assert reply["mkd"]["route"] == "student"
    assert "usage" not in reply["mkd"]  # the task body keeps its documented fields


def test_usage_after_a_fallback_is_the_teachers() -> None:
    invalid = student_answer({"category": "NOT_A_CATEGORY"}, 41, 7)
    reply = chat(make_router(invalid))
    assert reply["mkd"]["route"] == "fallback"
    assert reply["usage"] == {"prompt_tokens": 900, "completion_tokens": 9, "total_tokens": 909}


def test_a_task_response_body_has_no_usage_field() -> None:
    router = make_router(student_answer(CATEGORY))
    request = http_request({"input": "q"}, "/v1/tasks/query_classifier")
    result = asyncio.run(router.task_endpoint("query_classifier", request))
    assert result.usage.total_tokens == 48
    assert set(result.model_dump()) == {"task", "output", "model", "version", "route", "latency_ms"}


def test_a_stream_is_role_content_finish_then_done() -> None:
    media_type, events = sse_events(make_router(student_answer(CATEGORY)))
    assert media_type == "text/event-stream"
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert len({c["id"] for c in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    content = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert json.loads(content) == CATEGORY
    assert [c["choices"][0]["finish_reason"] for c in chunks] == [None, None, "stop"]
    assert chunks[-1]["mkd"]["route"] == "student"
    assert all("usage" not in c for c in chunks)


def test_a_stream_with_include_usage_ends_with_a_usage_chunk() -> None:
    _, events = sse_events(
        make_router(student_answer(CATEGORY, 41, 7)), stream_options={"include_usage": True}
    )
    chunks = [json.loads(e) for e in events[:-1]]
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {"prompt_tokens": 41, "completion_tokens": 7, "total_tokens": 48}
    assert all(c["usage"] is None for c in chunks[:-1])


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        ({"stream": "sometimes"}, 422, "stream"),
        ({"stream_options": {"include_usage": True}}, 400, "stream_options"),
        ({"stream": True, "stream_options": {"include_usage": "maybe"}}, 422, "stream_options.include_usage"),
        ({"stream": True, "model": "gpt-4"}, 404, "model"),
    ],
)  # fmt: skip
def test_a_bad_stream_request_is_a_plain_http_error(body, status, param) -> None:
    with pytest.raises(ApiError) as caught:
        chat(make_router(student_answer(CATEGORY)), **body)
    assert (caught.value.status, caught.value.param) == (status, param)


def _router_transport(router: RouterIngress) -> httpx.MockTransport:
    """Hands the SDK's request to the Router's chat endpoint and returns what it answers."""

    def handle(request: httpx.Request) -> httpx.Response:
        async def go():
            try:
                response = await router.chat(http_request(request.content))
            except ApiError as exc:
                response = ingress.error_response(exc)
            if isinstance(response, dict):
                return httpx.Response(200, json=response)
            if hasattr(response, "body_iterator"):
                body = "".join([p async for p in response.body_iterator]).encode()
            else:
                body = response.body
            headers = {"content-type": response.headers["content-type"]}
            return httpx.Response(response.status_code, content=body, headers=headers)

        return asyncio.run(go())

    return httpx.MockTransport(handle)


def test_the_openai_sdk_streams_a_schema_valid_answer_with_usage(pack) -> None:
    from openai import OpenAI

    router = make_router(student_answer(CATEGORY, 41, 7))
    http_client = httpx.Client(transport=_router_transport(router))
    sdk = OpenAI(base_url="http://mkd.test/v1", api_key="x", http_client=http_client)
    stream = sdk.chat.completions.create(
        model="mkd-query_classifier",
        messages=[{"role": "user", "content": "Compare Amazon and Walmart"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert pack.task("query_classifier").schema_errors(json.loads(content)) == []
    assert chunks[-1].usage.total_tokens == 48


def test_task_list_names_each_task_with_its_standard_schema(pack) -> None:
    router = make_router(student_answer(CATEGORY))
    body = asyncio.run(router.task_list(http_request(b"", "/v1/tasks")))
    names = [t["name"] for t in body["data"]]
    assert names == router.tasks
    entities = body["data"][names.index("entity_extractor")]
    assert entities["output_schema"] == pack.task("entity_extractor").standard_schema
    assert "x-mkd-span" not in json.dumps(body)
