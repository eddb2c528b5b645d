"""The demo's own services: the teacher endpoint reports what it serves."""

from __future__ import annotations

import pytest
from mkd.pipeline.services import start_teacher
from mkd.teachers.reference import LABELER_VERSION


@pytest.mark.integration
def test_the_teacher_endpoint_names_the_labeler_it_serves(tmp_path) -> None:
    # the demo keys its label cache by this: a new labeler version under the same model name
    # must not be answered from labels an older one wrote
    teacher = start_teacher(tmp_path, latency_ms=0, jitter_ms=0)
    try:
        assert teacher.served_id == f"reference/{LABELER_VERSION}"
        assert teacher.base_url.endswith("/v1")
    finally:
        teacher.stop()
