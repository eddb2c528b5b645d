"""Server-Timing: the Router's own share of a request apart from the time it awaits models."""

from __future__ import annotations

import asyncio
import re

import httpx
from fastapi import FastAPI

from serving.timing import ServerTimingMiddleware, covered, header_value, waiting


def test_overlapping_model_calls_count_once():
    assert covered([]) == 0
    assert covered([(0.0, 1.0), (0.5, 1.5), (2.0, 2.5)]) == 2.0
    assert covered([(1.0, 3.0), (1.5, 2.0)]) == 2.0


def test_the_router_share_is_the_request_minus_its_waits():
    waits = [(0.0, 0.01, "body"), (0.02, 0.06, "models"), (0.03, 0.07, "models")]
    assert header_value(0.1, waits) == "router;dur=40.000, body;dur=10.000, models;dur=50.000"
    assert header_value(0.05, []) == "router;dur=50.000, body;dur=0.000, models;dur=0.000"


def _timings(response: httpx.Response) -> dict[str, float]:
    return {
        k: float(v) for k, v in re.findall(r"(\w+);dur=([\d.]+)", response.headers["server-timing"])
    }


def test_every_response_says_how_long_the_router_and_the_models_took():
    app = FastAPI()
    app.add_middleware(ServerTimingMiddleware)

    async def model(seconds: float) -> None:
        with waiting("models"):
            await asyncio.sleep(seconds)

    @app.get("/answer")
    async def answer() -> dict:
        # a student and a teacher call at once, as the Answerer makes them: counted once
        await asyncio.gather(model(0.2), model(0.15))
        return {"ok": True}

    @app.get("/missing-model")
    async def nothing() -> dict:
        return {"ok": True}

    async def run() -> tuple[httpx.Response, httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://router") as client:
            return await client.get("/answer"), await client.get("/missing-model")

    answered, plain = asyncio.run(run())
    timings = _timings(answered)
    assert 200 <= timings["models"] < 350 and timings["router"] < 100
    assert _timings(plain)["models"] == 0
