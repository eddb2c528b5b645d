"""A typed Python client of the served API (`/v1/tasks`, `/v1/analyze`), sync and async.

    from mkd.serve.client import MKDClient
    with MKDClient("http://127.0.0.1:8000", token=os.environ["MKD_SERVE_TOKEN"]) as mkd:
        mkd.tasks()                                     # [TaskInfo(name=..., output_schema=...)]
        mkd.task("currency_identifier", "ARR above ₹1,000 crore").output
        mkd.analyze("Compare Amazon and Walmart net sales", {"as_of": "2026-01-15"}).results

`AsyncMKDClient` has the same methods as coroutines. Connection errors, 429 and 5xx are retried
with exponential backoff (a server's Retry-After wins); a 4xx is the caller's to fix and never
retried. Every failure is an `MKDError`: `MKDAPIError` carries the status and the server's error
body (serving.protocol.ErrorResponse), `MKDConnectionError` the last transport error.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError


class TaskInfo(BaseModel):
    """One served task (GET /v1/tasks)."""

    model_config = ConfigDict(extra="ignore")

    name: str
    instruction: str = ""
    output_schema: dict[str, Any] = Field(default_factory=dict)


class TaskResult(BaseModel):
    """One task's answer (POST /v1/tasks/{task}; serving.protocol.TaskResponse)."""

    model_config = ConfigDict(extra="ignore")

    task: str
    output: Any = Field(description="The answer, valid against the task's output schema.")
    model: str
    version: str
    route: Literal["student", "teacher", "fallback"]
    latency_ms: float


class AnalyzeResult(BaseModel):
    """Every served task for one query (POST /v1/analyze; serving.protocol.AnalyzeResponse)."""

    model_config = ConfigDict(extra="ignore")

    input: str
    results: dict[str, TaskResult]
    latency_ms: float


class MKDError(Exception):
    """Anything the client could not turn into a result."""


class MKDAPIError(MKDError):
    """The server answered with an error status (after retries, for 429 and 5xx).

    Attributes:
        status: the HTTP status.
        code, message, param, request_id: the server's error body (`{"error": {...}}`); for a
            body that is not MKD's (a proxy's page) code is `http_error` and message its text.
        body: the parsed JSON body, or the text.
    """

    def __init__(self, status: int, body: Any) -> None:
        error = body.get("error") if isinstance(body, dict) else None
        error = error if isinstance(error, dict) else {}
        self.status, self.body = status, body
        self.code: str = error.get("code") or "http_error"
        self.message: str = error.get("message") or str(body)[:500]
        self.param: str | None = error.get("param")
        self.request_id: str | None = error.get("request_id")
        where = f" (request {self.request_id})" if self.request_id else ""
        super().__init__(f"HTTP {status} {self.code}: {self.message}{where}")


class MKDConnectionError(MKDError):
    """The server could not be reached (after retries); the transport error is the cause."""


RETRIED_TRANSPORT_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


@dataclass(frozen=True)
class RetryPolicy:
    """When to try again and how long to wait first.

    Args:
        retries: further attempts after the first (0: none).
        backoff_s: the first wait; each retry doubles it, up to max_backoff_s.
        max_backoff_s: the longest computed wait.
        max_retry_after_s: the longest a server's Retry-After is honoured for.
        jitter: the fraction of each computed wait drawn at random (clients that failed
            together do not come back together).
    """

    retries: int = 3
    backoff_s: float = 0.5
    max_backoff_s: float = 8.0
    max_retry_after_s: float = 60.0
    jitter: float = 0.2

    def __post_init__(self) -> None:
        for name in ("retries", "backoff_s", "max_backoff_s", "max_retry_after_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not 0 <= self.jitter <= 1:
            raise ValueError(f"jitter must be within [0, 1], got {self.jitter}")

    def delay(self, attempt: int, response: httpx.Response | None) -> float | None:
        """Seconds to wait before attempt `attempt + 1` after `response` (None: a connection
        error); None when it must not be retried."""
        if attempt >= self.retries:
            return None
        if response is not None:
            if not retryable_status(response.status_code):
                return None
            after = retry_after(response.headers.get("retry-after"))
            if after is not None:
                return min(after, self.max_retry_after_s)
        wait = min(self.backoff_s * 2**attempt, self.max_backoff_s)
        return wait * (1 - self.jitter * random.random())


def retryable_status(status: int) -> bool:
    """429 (shed: try later) and 5xx (the server or a proxy failed) are worth a retry."""
    return status == 429 or status >= 500


def retry_after(value: str | None) -> float | None:
    """A Retry-After header's wait in seconds (delta-seconds or an HTTP date); None if absent
    or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class _Api:
    """What both clients share: URLs, headers, the retry policy, decoding."""

    def __init__(self, base_url: str, token: str | None, retries: int, backoff_s: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.policy = RetryPolicy(retries=retries, backoff_s=backoff_s)

    @staticmethod
    def task_path(name: str) -> str:
        return f"/v1/tasks/{quote(name, safe='')}"

    @staticmethod
    def body(query: str, context: dict[str, Any] | None) -> dict[str, Any]:
        return {"input": query} if context is None else {"input": query, "context": context}

    @staticmethod
    def decode(response: httpx.Response, model: type[BaseModel] | None = None) -> Any:
        """The JSON of a 2xx response (validated as `model`), or the MKDAPIError of any other."""
        try:
            data = response.json()
        except ValueError:
            data = response.text
        if response.is_error:
            raise MKDAPIError(response.status_code, data)
        if model is None:
            return data
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise MKDError(
                f"{response.request.url.path}: unexpected response body: {exc.errors()[0]}"
            ) from exc


class MKDClient(_Api):
    """The served API over a blocking httpx.Client.

    Args:
        base_url: the Router's address, e.g. http://127.0.0.1:8000 (the ingress on a cluster).
        token: the bearer token (the server's `auth.token_env`); None: send none.
        timeout: seconds per attempt (connect, read and write each).
        retries: attempts after the first on connection errors, 429 and 5xx.
        backoff_s: the first retry's wait (doubled each retry, at most 8 s).
        transport: an httpx transport (tests pass httpx.MockTransport).
        sleep: how to wait between attempts (tests record the waits).
    """

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        timeout: float = 30.0,
        retries: int = 3,
        *,
        backoff_s: float = 0.5,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(base_url, token, retries, backoff_s)
        self.http = httpx.Client(
            base_url=self.base_url, headers=self.headers, timeout=timeout, transport=transport
        )
        self.sleep = sleep

    def __enter__(self) -> MKDClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def request(self, method: str, path: str, json: Any = None) -> httpx.Response:
        """One call with the retry policy applied; the last response (any status).

        Raises:
            MKDConnectionError: the server stayed unreachable through every retry.
        """
        attempt = 0
        while True:
            try:
                response = self.http.request(method, path, json=json)
            except RETRIED_TRANSPORT_ERRORS as exc:
                wait = self.policy.delay(attempt, None)
                if wait is None:
                    raise MKDConnectionError(f"{method} {self.base_url}{path}: {exc!r}") from exc
            else:
                wait = self.policy.delay(attempt, response)
                if wait is None:
                    return response
            self.sleep(wait)
            attempt += 1

    def tasks(self) -> list[TaskInfo]:
        """The served tasks with their output schemas."""
        data = self.decode(self.request("GET", "/v1/tasks"))
        return [TaskInfo.model_validate(t) for t in data["data"]]

    def task(self, name: str, query: str, context: dict[str, Any] | None = None) -> TaskResult:
        """One task's answer to `query` (`context`: facts such as {"as_of": "2026-01-15"})."""
        response = self.request("POST", self.task_path(name), self.body(query, context))
        return self.decode(response, TaskResult)

    def analyze(self, query: str, context: dict[str, Any] | None = None) -> AnalyzeResult:
        """Every served task's answer to `query`, decoded in one student batch."""
        response = self.request("POST", "/v1/analyze", self.body(query, context))
        return self.decode(response, AnalyzeResult)


class AsyncMKDClient(_Api):
    """MKDClient over httpx.AsyncClient: the same arguments, methods are coroutines."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        timeout: float = 30.0,
        retries: int = 3,
        *,
        backoff_s: float = 0.5,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        super().__init__(base_url, token, retries, backoff_s)
        self.http = httpx.AsyncClient(
            base_url=self.base_url, headers=self.headers, timeout=timeout, transport=transport
        )
        self.sleep = sleep

    async def __aenter__(self) -> AsyncMKDClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self.http.aclose()

    async def request(self, method: str, path: str, json: Any = None) -> httpx.Response:
        """MKDClient.request, awaited."""
        attempt = 0
        while True:
            try:
                response = await self.http.request(method, path, json=json)
            except RETRIED_TRANSPORT_ERRORS as exc:
                wait = self.policy.delay(attempt, None)
                if wait is None:
                    raise MKDConnectionError(f"{method} {self.base_url}{path}: {exc!r}") from exc
            else:
                wait = self.policy.delay(attempt, response)
                if wait is None:
                    return response
            await self.sleep(wait)
            attempt += 1

    async def tasks(self) -> list[TaskInfo]:
        data = self.decode(await self.request("GET", "/v1/tasks"))
        return [TaskInfo.model_validate(t) for t in data["data"]]

    async def task(
        self, name: str, query: str, context: dict[str, Any] | None = None
    ) -> TaskResult:
        response = await self.request("POST", self.task_path(name), self.body(query, context))
        return self.decode(response, TaskResult)

    async def analyze(self, query: str, context: dict[str, Any] | None = None) -> AnalyzeResult:
        response = await self.request("POST", "/v1/analyze", self.body(query, context))
        return self.decode(response, AnalyzeResult)
