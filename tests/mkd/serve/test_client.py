"""The typed client's retry policy and errors, against scripted servers (httpx.MockTransport).

The round trip against the real app is in tests/serving/test_api_integration.py; here each test
scripts the statuses a server answers with and records the waits the client chose.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import time

import httpx
import pytest
from mkd.serve.client import (
    AsyncMKDClient,
    MKDAPIError,
    MKDClient,
    MKDConnectionError,
    RetryPolicy,
    TaskResult,
    retry_after,
)

ANSWER = {
    "task": "query_classifier", "output": {"category": "COMPARE"}, "model": "tiny",
    "version": "tiny", "route": "student", "latency_ms": 12.5,
}  # fmt: skip


class Script:
    """Answers each request with the next scripted reply: (status, json, headers) or an
    exception class to raise; records what was asked."""

    def __init__(self, *replies) -> None:
        self.replies, self.requests = list(replies), []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        reply = self.replies.pop(0)
        if isinstance(reply, type) and issubclass(reply, Exception):
            raise reply("scripted", request=request)
        status, body, headers = (*reply, {})[:3]
        return httpx.Response(status, json=body, headers=headers)


def error(status: int, code: str, message: str, param: str | None = None) -> tuple:
    body = {"error": {"message": message, "type": "x", "code": code, "param": param,
                      "request_id": "rid-1"}}  # fmt: skip
    return status, body


def client(script: Script, waits: list, retries: int = 3) -> MKDClient:
    return MKDClient(
        "http://mkd.test/", token="tok", retries=retries, backoff_s=1.0,
        transport=httpx.MockTransport(script), sleep=waits.append,
    )  # fmt: skip


def test_a_503_is_retried_with_doubling_backoff_until_it_answers() -> None:
    script, waits = Script(error(503, "x", "busy"), (502, {}), (200, ANSWER)), []
    result = client(script, waits).task("query_classifier", "Compare Amazon and Walmart")
    assert result == TaskResult.model_validate(ANSWER)
    assert len(script.requests) == 3
    assert 0.8 <= waits[0] <= 1.0 and 1.6 <= waits[1] <= 2.0  # 20% jitter below each wait


def test_a_429_waits_what_retry_after_says() -> None:
    script, waits = Script((429, {}, {"Retry-After": "7"}), (200, ANSWER)), []
    client(script, waits).task("query_classifier", "q")
    assert waits == [7.0]


def test_a_retry_after_date_is_honoured_up_to_the_cap() -> None:
    soon = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= retry_after(soon) <= 30
    assert retry_after("soon") is None and retry_after(None) is None
    late = httpx.Response(503, headers={"Retry-After": "3600"})
    assert RetryPolicy(max_retry_after_s=60).delay(0, late) == 60


@pytest.mark.parametrize("status", [400, 401, 404, 413, 422])
def test_a_4xx_is_never_retried_and_carries_the_servers_error(status) -> None:
    script, waits = (
        Script(error(status, "input_too_long", "input has 5000 characters", "input")),
        [],
    )
    with pytest.raises(MKDAPIError) as caught:
        client(script, waits).task("query_classifier", "x" * 5000)
    exc = caught.value
    assert (exc.status, exc.code, exc.param, exc.request_id) == (
        status,
        "input_too_long",
        "input",
        "rid-1",
    )
    assert "input has 5000 characters" in str(exc) and f"HTTP {status}" in str(exc)
    assert len(script.requests) == 1 and waits == []


def test_a_5xx_that_persists_is_raised_after_the_last_retry() -> None:
    script, waits = (
        Script(*[error(502, "teacher_unavailable", "the teacher could not answer")] * 3),
        [],
    )
    with pytest.raises(MKDAPIError) as caught:
        client(script, waits, retries=2).analyze("q")
    assert caught.value.status == 502 and caught.value.code == "teacher_unavailable"
    assert len(script.requests) == 3 and len(waits) == 2


def test_connection_errors_are_retried_then_raised_as_connection_errors() -> None:
    script, waits = Script(httpx.ConnectError, httpx.ReadTimeout, httpx.ConnectError), []
    with pytest.raises(MKDConnectionError, match=r"POST http://mkd\.test/v1/analyze") as caught:
        client(script, waits, retries=2).analyze("q")
    assert isinstance(caught.value.__cause__, httpx.ConnectError)
    assert len(script.requests) == 3


def test_an_error_page_that_is_not_json_keeps_its_text() -> None:
    def proxy(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, text="<html>no such route</html>")

    with pytest.raises(MKDAPIError) as caught:
        MKDClient("http://mkd.test", transport=httpx.MockTransport(proxy)).tasks()
    assert caught.value.code == "http_error" and "no such route" in caught.value.message


def test_requests_carry_the_token_and_the_context_only_when_given() -> None:
    script = Script((200, ANSWER), (200, ANSWER))
    mkd = client(script, [])
    mkd.task("query_classifier", "q")
    mkd.task("query_classifier", "q", {"as_of": "2026-01-15"})
    first, second = script.requests
    assert first.headers["authorization"] == "Bearer tok"
    assert first.url.path == "/v1/tasks/query_classifier"
    assert json.loads(first.content) == {"input": "q"}
    assert json.loads(second.content) == {"input": "q", "context": {"as_of": "2026-01-15"}}


def test_the_async_client_retries_the_same_way() -> None:
    script, waits = Script(httpx.ConnectError, (429, {}, {"Retry-After": "2"}), (200, ANSWER)), []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    async def go():
        async with AsyncMKDClient(
            "http://mkd.test", retries=3, backoff_s=1.0,
            transport=httpx.MockTransport(script), sleep=record,
        ) as mkd:  # fmt: skip
            return await mkd.task("query_classifier", "q")

    assert asyncio.run(go()).route == "student"
    assert 0.8 <= waits[0] <= 1.0 and waits[1] == 2.0


def test_a_negative_retry_count_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="retries must be >= 0"):
        MKDClient("http://mkd.test", retries=-1)


def test_the_client_models_match_the_servers_response_fields() -> None:
    from mkd.serve.client import AnalyzeResult

    from serving.protocol import AnalyzeResponse, TaskResponse

    served = {n for n, f in TaskResponse.model_fields.items() if not f.exclude}
    assert set(TaskResult.model_fields) == served
    assert set(AnalyzeResult.model_fields) == set(AnalyzeResponse.model_fields)
