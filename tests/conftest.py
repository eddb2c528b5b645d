"""Shared fixtures: real services on 127.0.0.1 (SeaweedFS S3, a local Ray cluster)."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from mkd.services.ray_local import LOOPBACK_ENV, RayCluster, start_ray_cluster
from mkd.services.seaweedfs import S3Server, start_seaweedfs

os.environ.update(LOOPBACK_ENV)  # every driver in this process stays on loopback
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A real SeaweedFS S3 server with real credentials (a wrong key is refused)."""
    server = start_seaweedfs(tmp_path_factory.mktemp("seaweedfs"))
    yield server
    server.stop()


@pytest.fixture
def s3_bucket(s3_server: S3Server) -> Iterator[str]:
    """A fresh, empty bucket on the session's S3 server, deleted with its objects afterwards.

    Each bucket holds SeaweedFS volumes of its own; deleting it gives them back to the server.
    """
    client = s3_server.client()
    name = f"mkd-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name)
    yield name
    _delete_bucket(client, name)


def _delete_bucket(client, name: str) -> None:
    from botocore.exceptions import ClientError

    with contextlib.suppress(ClientError):  # a test that deleted the bucket itself is fine
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=name):
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:
                client.delete_objects(Bucket=name, Delete={"Objects": keys})
        client.delete_bucket(Bucket=name)


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[RayCluster]:
    """A local Ray cluster bound to 127.0.0.1 on free ports; its processes killed at the end."""
    cluster = start_ray_cluster()
    yield cluster
    try:
        import ray

        ray.shutdown()
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def pack():
    """The finance task pack (immutable, shared)."""
    from mkd.tasks import load_pack

    return load_pack("finance")


@pytest.fixture
def data_dir() -> Path:
    return Path(__file__).parent / "data"
