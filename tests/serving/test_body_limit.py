"""The body limit holds while the body streams in: a chunked 20 MB body is refused early."""

from __future__ import annotations

import asyncio

import pytest
from starlette.requests import Request

from serving.body import read_limited_body
from serving.protocol import ApiError

LIMIT, CHUNK = 65536, 16384


class ChunkedBody:
    """An ASGI receive() that sends `total` bytes in `CHUNK`-sized messages, counting reads."""

    def __init__(self, total: int) -> None:
        self.left, self.read = total, 0

    async def __call__(self) -> dict:
        n = min(CHUNK, self.left)
        self.left -= n
        self.read += n
        return {"type": "http.request", "body": b"x" * n, "more_body": self.left > 0}


def _request(receive, headers: list[tuple[bytes, bytes]]) -> Request:
    scope = {"type": "http", "method": "POST", "path": "/v1/analyze", "headers": headers}
    return Request(scope, receive)


def test_a_chunked_20mb_body_is_refused_after_the_limit_plus_one_chunk() -> None:
    body = ChunkedBody(20 * 1024 * 1024)
    request = _request(body, [(b"transfer-encoding", b"chunked")])
    with pytest.raises(ApiError) as info:
        asyncio.run(read_limited_body(request, LIMIT))
    assert info.value.status == 413 and "limits.max_body_bytes" in info.value.message
    assert body.read <= LIMIT + CHUNK


def test_an_under_declared_length_does_not_get_past_the_limit() -> None:
    body = ChunkedBody(1024 * 1024)
    request = _request(body, [(b"content-length", b"100")])
    with pytest.raises(ApiError):
        asyncio.run(read_limited_body(request, LIMIT))
    assert body.read <= LIMIT + CHUNK


def test_a_declared_length_over_the_limit_is_refused_before_reading() -> None:
    body = ChunkedBody(LIMIT + 1)
    request = _request(body, [(b"content-length", str(LIMIT + 1).encode())])
    with pytest.raises(ApiError, match=str(LIMIT + 1)):
        asyncio.run(read_limited_body(request, LIMIT))
    assert body.read == 0


def test_a_body_at_the_limit_is_read_whole() -> None:
    body = ChunkedBody(LIMIT)
    assert len(asyncio.run(read_limited_body(_request(body, []), LIMIT))) == LIMIT
