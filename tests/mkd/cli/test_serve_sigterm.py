"""`mkd serve` stopped by SIGTERM leaves no process of its Ray cluster (as Ctrl-C does).

The real `serve()` runs in a subprocess on a real local cluster; only the deploy and the wait for
RUNNING are stubbed (no student is loaded), so the test measures the cluster's lifecycle alone.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mkd.services.ray_local import _processes_under

pytestmark = [pytest.mark.slow, pytest.mark.integration]
REPO = Path(__file__).resolve().parents[3]

SCRIPT = """
import json, sys
from pathlib import Path
import mkd.services.ray_local as ray_local
from mkd.serve import control
from mkd.cli.serve_cmds import serve

real_start = ray_local.start_ray_cluster
def start(*a, **k):
    cluster = real_start(*a, **k)
    print("CLUSTER " + json.dumps({"temp_dir": str(cluster.temp_dir), "address": cluster.address}),
          flush=True)
    return cluster
ray_local.start_ray_cluster = start
control.deploy = lambda *a, **k: None
control.wait_running = lambda *a, **k: {}
serve(config=Path(sys.argv[1]), port=0, student=None, version=None, force=False)
"""


def _read_cluster(proc: subprocess.Popen, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 1.0)
        if ready:
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                break
            seen.append(line)
            if line.startswith("CLUSTER "):
                return json.loads(line.removeprefix("CLUSTER "))
    proc.kill()
    raise AssertionError(f"serve never reported its cluster: {''.join(seen)[-3000:]}")


def test_sigterm_stops_the_cluster_of_mkd_serve() -> None:
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'platform'}:{REPO}", "COLUMNS": "200"}
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(REPO / "configs" / "serve.yaml")],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    cluster = _read_cluster(proc, timeout=400)
    temp_dir = Path(cluster["temp_dir"])
    assert _processes_under(temp_dir, cluster["address"]), "the cluster should be running"
    time.sleep(2)  # inside the status loop
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=120)
    assert "stopping" in out, out[-2000:]
    assert _processes_under(temp_dir, cluster["address"]) == []
