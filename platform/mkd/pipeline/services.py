"""What the demo starts for itself: a Ray cluster and the teacher's HTTP endpoint, on loopback."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from mkd.services.ports import free_ports, wait_for_port
from mkd.services.ray_local import RayCluster, start_ray_cluster


@dataclass
class TeacherEndpoint:
    """`mkd teacher serve` in a subprocess; base_url is what the openai backend is given,
    served_id the identity the server reports (its labeler and version, e.g. reference/1.2)."""

    base_url: str
    pid: int
    log: Path
    served_id: str = ""

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)


def start_teacher(
    workdir: Path, latency_ms: float, jitter_ms: float, backend: str = "reference"
) -> TeacherEndpoint:
    """Serve the teacher backend over the OpenAI-compatible HTTP API on a free port."""
    (port,) = free_ports(1)
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / "teacher.log"
    args = [
        str(Path(sys.executable).parent / "mkd"), "teacher", "serve", "--backend", backend,
        "--port", str(port), "--latency-ms", str(latency_ms), "--jitter-ms", str(jitter_ms),
        "--seed", "0", "--request-log", str(workdir / "teacher-requests.jsonl"),
    ]  # fmt: skip
    with open(log, "ab") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    endpoint = TeacherEndpoint(f"http://127.0.0.1:{port}/v1", proc.pid, log)
    try:
        wait_for_port(port, timeout=120)
        endpoint.served_id = _served_id(f"http://127.0.0.1:{port}/health")
    except (TimeoutError, OSError, ValueError):
        endpoint.stop()
        raise RuntimeError(f"the teacher server did not start; see {log}") from None
    return endpoint


def _served_id(health_url: str) -> str:
    """The teacher identity a `mkd teacher serve` reports on /health (ValueError if none).
    Called once its port accepts: the request waits in the backlog until the server answers."""
    import httpx

    try:
        return str(httpx.get(health_url, timeout=30.0).raise_for_status().json()["teacher"])
    except (httpx.HTTPError, KeyError) as exc:
        raise ValueError(f"no teacher identity at {health_url}: {exc}") from exc


@contextlib.contextmanager
def demo_services(
    workdir: Path, latency_ms: float, jitter_ms: float, ray_address: str | None = None
) -> Iterator[tuple[str, TeacherEndpoint, RayCluster | None]]:
    """Start (or reuse) Ray and the teacher; everything started here is stopped on exit."""
    cluster = None if ray_address else start_ray_cluster()
    address = ray_address or cluster.address
    os.environ["RAY_ADDRESS"] = address  # stages that call ray.init() join this cluster
    teacher = start_teacher(workdir, latency_ms, jitter_ms)
    try:
        yield address, teacher, cluster
    finally:
        teacher.stop()
        with contextlib.suppress(Exception):
            import ray

            ray.shutdown()
        if cluster:
            cluster.stop()
        os.environ.pop("RAY_ADDRESS", None)
