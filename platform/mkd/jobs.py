"""Run pipeline stages on a Ray cluster through the Ray Job Submission API.

`submit_stage` ships the project's packages (`py_modules`: mkd, ray_jobs, serving) and the config
(`working_dir`: a staging directory holding only `pipeline.yaml`) in the job's runtime_env, so the
cluster needs nothing but Ray and the dependencies in its image. The job runs
`python -m mkd.stages <stage> -c pipeline.yaml` (the one stage runner) on the head node; its exit
status becomes ours (0 done, 1 the stage failed, 2 bad config or input).

What is shipped is the three packages as this interpreter imports them, located by import spec:
the checkout's platform/mkd, ray_jobs/ and serving/ in a source checkout or editable install,
the site-packages copies when mkd is installed from a wheel. Either way the job runs the code of
the submitting client, whatever version the image has installed, and nothing else of a checkout
(tests, docs, stores, models) is uploaded.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import os
import re
import shlex
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml

from mkd.stages.registry import STAGES, canonical


def package_dir(name: str) -> Path:
    """Where the top-level package `name` is imported from (found, not imported).

    Raises:
        ModuleNotFoundError: `name` is not importable, or not a regular package.
    """
    spec = importlib.util.find_spec(name)
    locations = list(spec.submodule_search_locations or []) if spec else []
    if not locations:
        raise ModuleNotFoundError(f"{name} is not an importable package", name=name)
    return Path(locations[0]).resolve()


# Code shipped with every job: the packages a stage may import, wherever they are installed
# (ray_jobs too, for jobs that still run its backward-compatible entry points).
PROJECT_MODULES = {name: package_dir(name) for name in ("mkd", "ray_jobs", "serving")}
_EXCLUDES = ["__pycache__", "*.pyc", "*.gguf", "*.safetensors"]
_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
# Driver exit code when the job ended without one (stopped, or failed before the driver ran).
EXIT_STOPPED = 130
EXIT_FAILED = 1


@dataclass
class JobOutcome:
    """How a job ended: its id, Ray's status, the driver's exit code and Ray's message."""

    submission_id: str
    status: str
    exit_code: int
    message: str = ""


def stage_name(stage: str) -> str:
    """The stage's own name (`eval` means `evaluate`, `build_data` means `build`).

    Raises:
        ValueError: no such stage; the message lists the stages that exist.
    """
    return canonical(stage)


def available_stages() -> list[str]:
    """The stages `python -m mkd.stages` runs (mkd.stages.STAGES), in pipeline order."""
    return list(STAGES)


def stage_command(stage: str, python: str = "python") -> list[str]:
    """`python -m mkd.stages NAME`: how a job runs a stage (options follow)."""
    return [python, "-m", "mkd.stages", stage_name(stage)]


def is_local_address(address: str) -> bool:
    """True when the dashboard address is this machine (then the driver can use our interpreter)."""
    return (urlparse(address).hostname or "") in _LOCAL_HOSTS


def stage_config(config: Path, staging: Path) -> Path:
    """Copy the config into `staging`/pipeline.yaml, adjusted for running inside the cluster.

    - A relative store (`file://./mkd-store`) is made absolute: it would otherwise resolve inside
      the job's temporary working directory on the cluster and vanish with it.
    - `data.ray_address: null` ("start Ray locally") becomes `auto`: the driver already runs in
      the cluster, and a local start there fails ("num_cpus ... must not be provided").
    """
    try:
        data = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ValueError(f"{config}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{config}: the config must be a mapping of sections")
    store = data.get("store") if isinstance(data.get("store"), dict) else None
    uri = (store or {}).get("uri", "")
    if isinstance(uri, str) and uri.startswith("file://") and not uri.startswith("file:///"):
        store["uri"] = "file://" + str((config.parent / uri.removeprefix("file://")).resolve())
    section = data.setdefault("data", {})
    if isinstance(section, dict) and not section.get("ray_address"):
        section["ray_address"] = "auto"
    staging.mkdir(parents=True, exist_ok=True)
    target = staging / "pipeline.yaml"
    target.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return target


def runtime_env_for(
    staging: Path, env_vars: dict[str, str] | None = None, local: bool = False
) -> dict[str, Any]:
    """The job's runtime_env: the config directory as working_dir, the project as py_modules."""
    env = dict(env_vars or {})
    if local:  # a driver on a loopback cluster must keep Ray on 127.0.0.1 (see mkd.services)
        env.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    return {
        "working_dir": str(staging),
        "py_modules": [str(p) for p in PROJECT_MODULES.values() if p.is_dir()],
        "excludes": list(_EXCLUDES),
        "env_vars": env,
    }


def submission_id_for(stage: str) -> str:
    """A readable, unique id: mkd-<stage>-<UTC time>-<random>."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    return f"mkd-{re.sub(r'[^a-z0-9]+', '-', stage.lower())}-{stamp}-{uuid.uuid4().hex[:6]}"


def auth_headers() -> dict[str, str]:
    """The bearer header for a cluster with Ray token auth, or none.

    `ray start` enables token auth by default and keeps the token in ~/.ray/auth_token; remote
    clusters (KubeRay authOptions) hand it out as RAY_AUTH_TOKEN. RAY_AUTH_MODE=disabled opts out.
    """
    if os.environ.get("RAY_AUTH_MODE", "").lower() == "disabled":
        return {}
    token = os.environ.get("RAY_AUTH_TOKEN", "").strip()
    if not token:
        path = Path(os.environ.get("RAY_AUTH_TOKEN_PATH") or Path.home() / ".ray" / "auth_token")
        token = path.read_text().strip() if path.is_file() else ""
    return {"Authorization": f"Bearer {token}"} if token else {}


def client_for(address: str):
    """A JobSubmissionClient for the dashboard at `address` (http://HEAD:8265)."""
    from ray.job_submission import JobSubmissionClient

    return JobSubmissionClient(address, headers=auth_headers() or None)


def submit_stage(
    client,
    stage: str,
    config: Path,
    *,
    python: str = "python",
    env_vars: dict[str, str] | None = None,
    local: bool = False,
    entrypoint_num_cpus: float | None = None,
    args: Sequence[str] = (),
) -> str:
    """Submit `python -m mkd.stages <stage> -c pipeline.yaml [args]`; returns the submission id.

    Args:
        client: a ray.job_submission.JobSubmissionClient.
        stage: a stage of mkd.stages (`eval` is accepted for `evaluate`).
        config: the pipeline YAML, shipped with the job.
        python: interpreter on the cluster (an absolute path on a loopback cluster, where plain
            `python` may resolve to the system interpreter).
        env_vars: environment for the driver and its tasks (visible in the dashboard: no secrets).
        local: the cluster runs on this machine.
        entrypoint_num_cpus: CPUs reserved for the driver (None: 0, the Ray default).
        args: options of the stage's own (`--until dataset` for the pipeline), shell-quoted.

    Raises:
        ValueError: unknown stage or unreadable config.
    """
    command = stage_command(stage, python)
    staging = Path(tempfile.mkdtemp(prefix="mkd-submit-"))
    try:
        stage_config(Path(config), staging)
        # submit_job uploads working_dir and py_modules before it returns: staging can go after.
        return client.submit_job(
            entrypoint=shlex.join([*command, "-c", "pipeline.yaml", *args]),
            submission_id=submission_id_for(stage),
            runtime_env=runtime_env_for(staging, env_vars, local),
            metadata={
                "mkd.stage": command[-1],
                "mkd.config": Path(config).name,
            },
            entrypoint_num_cpus=entrypoint_num_cpus,
        )
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def submit_entrypoint(client, entrypoint: str, *, local: bool = False) -> str:
    """Submit an arbitrary command (no project shipping); for smoke tests and one-off tools."""
    env = {"env_vars": {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}} if local else None
    return client.submit_job(
        entrypoint=entrypoint, submission_id=submission_id_for("cmd"), runtime_env=env
    )


def follow_logs(client, submission_id: str, write: Callable[[str], Any]) -> None:
    """Stream the job's logs to `write` until the job ends (Ray closes the stream then)."""

    async def _tail() -> None:
        async for chunk in client.tail_job_logs(submission_id):
            write(chunk)

    asyncio.run(_tail())


def wait_for_end(client, submission_id: str, timeout_s: float = 3600.0) -> JobOutcome:
    """Poll until the job is terminal (the log stream can end a moment before the status)."""
    from ray.job_submission import JobStatus

    deadline = time.monotonic() + timeout_s
    while True:
        info = client.get_job_info(submission_id)
        if info.status in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.STOPPED):
            return outcome_of(info)
        if time.monotonic() > deadline:
            raise TimeoutError(f"job {submission_id} still {info.status} after {timeout_s:.0f}s")
        time.sleep(0.5)


def outcome_of(info) -> JobOutcome:
    """Map Ray's JobDetails to an exit code: 0 succeeded, the driver's code when it failed."""
    status = str(getattr(info.status, "value", info.status))
    driver_code = getattr(info, "driver_exit_code", None)
    if status == "SUCCEEDED":
        code = 0
    elif status == "STOPPED":
        code = EXIT_STOPPED
    else:
        code = driver_code if driver_code else EXIT_FAILED
    return JobOutcome(info.submission_id, status, code, info.message or "")


def list_jobs(client) -> list[dict[str, Any]]:
    """Every job the cluster knows, newest first, as plain dicts."""
    rows = []
    for info in client.list_jobs():
        rows.append(
            {
                "submission_id": info.submission_id or info.job_id,
                "status": str(getattr(info.status, "value", info.status)),
                "stage": (info.metadata or {}).get("mkd.stage", ""),
                "entrypoint": info.entrypoint,
                "start_time": info.start_time,
                "end_time": info.end_time,
                "exit_code": getattr(info, "driver_exit_code", None),
            }
        )
    return sorted(rows, key=lambda r: r["start_time"] or 0, reverse=True)


def forwarded_env(names: Iterable[str]) -> dict[str, str]:
    """Values of the named local environment variables (`--env NAME`); KeyError if one is unset."""
    out = {}
    for name in names:
        if name not in os.environ:
            raise KeyError(f"--env {name}: not set in this environment")
        out[name] = os.environ[name]
    return out


def default_python(address: str) -> str:
    """Our interpreter on a loopback cluster (it has the project installed); `python` elsewhere."""
    return sys.executable if is_local_address(address) else "python"
