"""Reading a request body under a byte limit, enforced while it streams in.

A declared Content-Length over the limit is refused before any byte is read; a chunked (or
under-declared) body is read chunk by chunk and refused as soon as it passes the limit, so at
most the limit plus one chunk is ever held in memory.
"""

from __future__ import annotations

from starlette.requests import Request

from serving.protocol import ApiError
from serving.timing import waiting


def _too_large(size: str, limit: int) -> ApiError:
    return ApiError(
        413,
        "body_too_large",
        f"request body is {size} bytes; the limit is {limit} (limits.max_body_bytes)",
    )


async def read_limited_body(request: Request, limit: int) -> bytes:
    """The whole body, or ApiError 413 naming limits.max_body_bytes once it exceeds `limit`."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(declared, limit)
    chunks: list[bytes] = []
    size = 0
    with waiting("body"):  # Serve's proxy hands the body over: its time, not the Router's
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise _too_large(f"more than {limit}", limit)  # the rest is never read
            chunks.append(chunk)
    return b"".join(chunks)
