"""Fixtures for the labeling-job tests: reference teacher servers and pipeline configs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from mkd.services.ports import free_ports
from mkd.teachers.server import BackgroundServer, FaultPlan, TeacherServer

# A ~/.ray/auth_token left by any local ray.init() switches `ray start` to token auth while
# drivers stay unauthenticated: keep this session's clusters on the pre-token behaviour.
os.environ.setdefault("RAY_AUTH_MODE", "disabled")


@pytest.fixture
def teacher_server(pack, tmp_path):
    """start(**faults) -> (base_url, request log): the reference teacher behind HTTP."""
    reference = pytest.importorskip("mkd.teachers.reference")
    running = []

    def start(**faults):
        log = tmp_path / f"requests{len(running)}.jsonl"
        srv = TeacherServer(
            reference.ReferenceTeacher(pack), pack, FaultPlan(**faults), request_log=log
        )
        bg = BackgroundServer(srv.app, free_ports(1)[0]).__enter__()
        running.append((bg, srv))
        return bg.url, log

    yield start
    for bg, srv in running:
        bg.__exit__(None)
        srv.close()


@pytest.fixture
def curated_subset(pack, tmp_path) -> Path:
    """Every 10th curated prompt (all categories), as a curated file."""
    lines = pack.data_file("data/curated.jsonl").read_text(encoding="utf-8").splitlines()
    path = tmp_path / "curated.jsonl"
    path.write_text("\n".join(lines[::10]) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def write_config(tmp_path):
    """write_config(name, overrides) -> path of a pipeline YAML merged over small defaults."""

    def write(name: str, data: dict) -> Path:
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        return path

    return write
