"""Fixtures for the dataset pipeline tests: the pack's gazetteers and a scripted teacher."""

from __future__ import annotations

import pytest
import yaml
from mkd.teachers.base import LabelRequest, LabelResult

VALID = {
    "query_classifier": {"category": "LOOKUP"},
    "currency_identifier": {"currency": None, "symbol": None, "mention": "none"},
}


class ScriptedTeacher:
    """Answers a fixed schema-valid value per task, or what `script[input]` says."""

    teacher_id = "scripted:1"

    def __init__(self, script: dict[str, LabelResult | Exception] | None = None) -> None:
        self.script = script or {}
        self.asked: list[str] = []

    def label(self, batch: list[LabelRequest]) -> list[LabelResult]:
        out = []
        for req in batch:
            self.asked.append(req.id)
            scripted = self.script.get(req.input)
            if isinstance(scripted, Exception):
                raise scripted
            if scripted is not None:
                out.append(
                    LabelResult(
                        req.id,
                        req.task,
                        raw=scripted.raw,
                        output=scripted.output,
                        error=scripted.error,
                    )
                )
                continue
            value = VALID.get(req.task, [])
            out.append(LabelResult(req.id, req.task, raw="{}", output=value))
        return out


@pytest.fixture
def gazetteers(pack):
    return yaml.safe_load(pack.data_file("data/gazetteers.yaml").read_text(encoding="utf-8"))


@pytest.fixture
def scripted():
    return ScriptedTeacher
