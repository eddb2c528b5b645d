"""A local Ray cluster bound to 127.0.0.1 only, on free ports, stopped by `ray stop` of its own.

Ray binds the machine's outward address unless RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 is set for
`ray start` and for every driver; `loopback_env()` is that environment.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from mkd.services.ports import free_ports, wait_for_port

# RAY_AUTH_MODE=disabled: these clusters listen on 127.0.0.1 only. Without it, a stray
# ~/.ray/auth_token left by any earlier local ray.init() silently switches later clusters and
# drivers to token auth, and whichever side lacks the token is refused.
LOOPBACK_ENV = {
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_AUTH_MODE": "disabled",
}


def loopback_env() -> dict[str, str]:
    """The process environment plus what keeps Ray on loopback (set it in every driver)."""
    os.environ.update(LOOPBACK_ENV)
    return {**os.environ, **LOOPBACK_ENV}


@dataclass
class RayCluster:
    """A running local cluster: `address` for ray.init, `dashboard_url` for the Job/Serve APIs."""

    address: str
    dashboard_url: str
    temp_dir: Path
    serve_http_port: int
    # Ray's metrics agent serves every process's metrics here (Prometheus text), as port 8080
    # does on the chart's pods.
    metrics_export_port: int = 0
    env: dict[str, str] = field(repr=False, default_factory=dict)

    def stop(self, keep_logs_in: Path | None = None) -> Path | None:
        """Stop this cluster's processes only (Ray ignores SIGTERM: SIGKILL what is left), then
        delete its temp dir; with `keep_logs_in`, its session logs are copied there first.

        Returns where the logs were kept (None when not asked or there were none).
        """
        for pidfile in self.temp_dir.glob("session_*/logs/*.pid"):
            _kill(pidfile)
        for proc in _processes_under(self.temp_dir, self.address):
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc, signal.SIGKILL)
        kept = _copy_logs(self.temp_dir, keep_logs_in) if keep_logs_in else None
        shutil.rmtree(self.temp_dir, ignore_errors=True)
        return kept


def _copy_logs(temp_dir: Path, dest: Path) -> Path | None:
    """Copy every session's logs/ (raylet, GCS, Serve controller and replica logs) to dest."""
    sessions = sorted(p for p in temp_dir.glob("session_*") if p.is_dir() and not p.is_symlink())
    if not sessions:
        return None
    for session in sessions:
        if (session / "logs").is_dir():
            target = dest if len(sessions) == 1 else dest / session.name
            shutil.copytree(session / "logs", target, symlinks=True, dirs_exist_ok=True)
    return dest


def _kill(pidfile: Path) -> None:
    with contextlib.suppress(ValueError, ProcessLookupError, PermissionError):
        os.kill(int(pidfile.read_text().strip()), signal.SIGKILL)


def _processes_under(temp_dir: Path, address: str) -> list[int]:
    """PIDs of this cluster: command lines naming its temp dir or GCS address (raylet, GCS,
    dashboard, the client server that `ray start` leaves orphaned...) and
    every descendant of those (agents and workers rename themselves, e.g. ray::DashboardAgent)."""
    roots, parents = set(), {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        pid = int(entry.name)
        parents[pid] = int(stat.rsplit(")", 1)[1].split()[1])
        if str(temp_dir) in cmd or f"={address} " in f"{cmd} ":
            roots.add(pid)
    found, frontier = set(roots), set(roots)
    while frontier:
        frontier = {pid for pid, ppid in parents.items() if ppid in frontier} - found
        found |= frontier
    return sorted(found)


def start_ray_cluster(
    num_cpus: int = 2,
    object_store_mb: int = 600,
    timeout: float = 240,
    attempts: int = 3,
    extra_env: dict[str, str] | None = None,
) -> RayCluster:
    """`ray start --head` on 127.0.0.1 with every port chosen free, in a private temp dir.

    `extra_env` is added to the environment of `ray start`, which every Ray process of the
    cluster (raylet, workers, Serve replicas) inherits: what a pod spec's `env` gives its Ray.

    Ray gives its raylet a fixed 30 s to register; on a saturated machine that can pass, so a
    failed start is cleaned up (its processes killed by PID) and tried again on fresh ports.
    """
    for attempt in range(1, attempts + 1):
        try:
            return _start_once(num_cpus, object_store_mb, timeout, extra_env or {})
        except RuntimeError:
            if attempt == attempts:
                raise
    raise AssertionError("unreachable")


def _start_once(
    num_cpus: int, object_store_mb: int, timeout: float, extra_env: dict[str, str]
) -> RayCluster:
    env = {**loopback_env(), **extra_env, **LOOPBACK_ENV}
    temp_dir = Path(tempfile.mkdtemp(prefix="mkdray", dir="/tmp"))
    (gcs, dash, client, agent_http, agent_grpc, metrics, runtime_env, node_mgr, obj_mgr,
     serve_http) = free_ports(10)  # fmt: skip
    # Worker ports come from below Linux's ephemeral range (32768+), where free_ports() picks
    # the others, so the 200-port worker block can never cover one of them.
    min_worker = random.randrange(10000, 30000, 200)
    ray_bin = str(Path(sys.executable).parent / "ray")
    args = [
        ray_bin, "start", "--head", "--node-ip-address=127.0.0.1", "--dashboard-host=127.0.0.1",
        f"--port={gcs}", f"--dashboard-port={dash}", f"--ray-client-server-port={client}",
        f"--dashboard-agent-listen-port={agent_http}", f"--dashboard-agent-grpc-port={agent_grpc}",
        f"--metrics-export-port={metrics}", f"--runtime-env-agent-port={runtime_env}",
        f"--node-manager-port={node_mgr}", f"--object-manager-port={obj_mgr}",
        f"--min-worker-port={min_worker}", f"--max-worker-port={min_worker + 200}",
        f"--num-cpus={num_cpus}", f"--object-store-memory={object_store_mb * 1024 * 1024}",
        f"--temp-dir={temp_dir}", "--disable-usage-stats", "--include-dashboard=true",
    ]  # fmt: skip
    cluster = RayCluster(
        address=f"127.0.0.1:{gcs}",
        dashboard_url=f"http://127.0.0.1:{dash}",
        temp_dir=temp_dir,
        serve_http_port=serve_http,
        metrics_export_port=metrics,
        env=env,
    )
    try:
        result = subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise RuntimeError(
                f"ray start failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
            )
        wait_for_port(dash, timeout)
    except (RuntimeError, TimeoutError, subprocess.TimeoutExpired) as exc:
        cluster.stop()
        raise RuntimeError(str(exc)) from None
    except BaseException:  # Ctrl-C or SIGTERM while starting: no half-started cluster left
        cluster.stop()
        raise
    return cluster


@contextmanager
def ray_session(address: str | None = None) -> Iterator[None]:
    """Join `address` (or $RAY_ADDRESS, set inside Ray jobs and by the demo), else start a
    private loopback-only Ray for this process; only what was started here is shut down."""
    import ray

    loopback_env()  # every driver must keep Ray on 127.0.0.1
    if ray.is_initialized():
        yield
        return
    address = address or os.environ.get("RAY_ADDRESS")
    if address:
        ray.init(address=address, logging_level="WARNING", log_to_driver=False)
    else:
        ray.init(
            num_cpus=os.cpu_count(),
            include_dashboard=False,
            _node_ip_address="127.0.0.1",
            logging_level="WARNING",
            log_to_driver=False,
        )
    try:
        yield
    finally:
        ray.shutdown()
