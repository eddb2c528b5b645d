"""The tiny base model the loop tests train on."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory) -> Path:
    from mkd.training.tiny import build_tiny_student

    return build_tiny_student(
        tmp_path_factory.mktemp("loop-base"), hidden=32, layers=1, max_positions=1024
    )
