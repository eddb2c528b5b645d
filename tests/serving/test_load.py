"""Bounded loopback load: 50 concurrent clients for 60 s while the weight changes three times."""

from __future__ import annotations

import asyncio
import statistics
import threading
import time

import httpx
import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def _client(
    base_url: str, headers: dict, stop: float, latencies: list, failures: list
) -> None:
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60) as client:
        i = 0
        while time.monotonic() < stop:
            i += 1
            started = time.perf_counter()
            try:
                r = await client.post(
                    "/v1/tasks/query_classifier", json={"input": f"Top 5 banks by assets {i}"}
                )
                if r.status_code >= 300:
                    failures.append(f"{r.status_code}: {r.text[:200]}")
            except httpx.HTTPError as exc:
                failures.append(repr(exc))
            latencies.append((time.perf_counter() - started) * 1000)


def test_fifty_clients_for_a_minute_while_the_weight_changes(served_app):
    served_app.set_student(fault="none")
    served_app.set_router(mode="split", student_weight=0.1, mirror_fraction=0.05)
    served_app.wait_router(lambda s: s["student_weight"] == 0.1)
    duration, latencies, failures = 60.0, [], []
    stop = time.monotonic() + duration

    def steer() -> None:
        for weight in (0.3, 0.6, 0.2):
            time.sleep(duration / 4)
            served_app.set_router(student_weight=weight)

    steering = threading.Thread(target=steer)
    steering.start()

    async def run() -> None:
        await asyncio.gather(
            *(
                _client(served_app.base_url, served_app.headers, stop, latencies, failures)
                for _ in range(50)
            )
        )

    asyncio.run(run())
    steering.join()
    p50, p99 = statistics.median(latencies), sorted(latencies)[int(0.99 * (len(latencies) - 1))]
    print(
        f"\nload: {len(latencies)} requests in {duration:.0f}s, p50 {p50:.0f} ms, p99 {p99:.0f} ms, non-2xx {len(failures)}"
    )
    assert failures == []
    assert served_app.wait_router(lambda s: s["student_weight"] == 0.2)
