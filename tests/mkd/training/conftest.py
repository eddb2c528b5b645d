"""Fixtures for training tests: a tiny random Llama with the real tokenizer, labeled records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

FIXTURE = Path(__file__).parents[2] / "data" / "training"
TASKS = ["currency_identifier", "date_interpretation", "entity_extractor", "query_classifier"]


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from mkd.training.tiny import build_tiny_student

    return build_tiny_student(tmp_path_factory.mktemp("tiny-student"))


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_model_dir: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


@pytest.fixture
def fixture_dir() -> Path:
    """tests/data/training: train/val/test JSONL in the dataset record format."""
    return FIXTURE


@pytest.fixture
def task_names() -> list[str]:
    return list(TASKS)


def read_split(split: str) -> list[dict]:
    return [json.loads(line) for line in (FIXTURE / f"{split}.jsonl").read_text().splitlines()]


@pytest.fixture
def train_rows() -> list[dict]:
    return read_split("train")


@pytest.fixture
def val_rows() -> list[dict]:
    return read_split("val")
