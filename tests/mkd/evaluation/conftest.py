"""A tiny student (random Llama + the real tokenizer), a LoRA run and a dataset in a store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mkd.config import PipelineConfig, parse_config
from mkd.storage import open_store

GOLD = Path(__file__).parents[3] / "platform/mkd/tasks/packs/finance/data/gold.jsonl"


def build_tiny_model(directory: Path) -> Path:
    """A 1-layer Llama with SmolLM2's tokenizer and chat template: fast, answers garbage.
    1,024 positions: the teacher's few-shot prompt, given to the base, is longer than 512."""
    from mkd.training.tiny import build_tiny_student

    return build_tiny_student(directory, hidden=32, layers=1, max_positions=1024)


def build_adapter(base: Path, directory: Path) -> Path:
    """A LoRA adapter with non-zero weights (so merging changes the model)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(1)
    model = AutoModelForCausalLM.from_pretrained(base)
    lora = LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", init_lora_weights=False)
    get_peft_model(model, lora).save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-base"))


@pytest.fixture(scope="session")
def tiny_adapter(tiny_base: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_adapter(tiny_base, tmp_path_factory.mktemp("tiny-adapter"))


def gold_records(per_task: int = 2) -> list[dict]:
    """The first `per_task` hand-labeled gold records of each finance task."""
    out, counts = [], {}
    for line in GOLD.read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        if counts.get(rec["task"], 0) < per_task:
            counts[rec["task"]] = counts.get(rec["task"], 0) + 1
            out.append(rec)
    return out


def seed_store(root: Path, base: Path, adapter: Path, run_id: str = "run-1") -> str:
    """A store with one finished dataset (finance/v1) and one finished run."""
    store = open_store(f"file://{root}")
    test = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in gold_records())
    store.put_bytes("datasets/finance/v1/test.jsonl", test.encode())
    store.put_json("datasets/finance/v1/manifest.json", {"created_at": "2026-01-01T00:00:00Z"})
    store.put_dir(f"runs/{run_id}/adapter", adapter)
    for f in base.iterdir():
        if f.name.startswith(("tokenizer", "special_tokens", "chat_template")):
            store.put_file(f"runs/{run_id}/tokenizer/{f.name}", f)
    store.put_json(
        f"runs/{run_id}/manifest.json",
        {"run_id": run_id, "base_model": {"uri": str(base)}, "dataset": "finance/v1",
         "finished_at": "2026-01-02T00:00:00Z"},
    )  # fmt: skip
    return store.uri


@pytest.fixture
def eval_config(tmp_path: Path, tiny_base: Path, tiny_adapter: Path, monkeypatch) -> PipelineConfig:
    monkeypatch.setenv("MKD_CACHE_DIR", str(tmp_path / "cache"))
    uri = seed_store(tmp_path / "store", tiny_base, tiny_adapter)
    return parse_config(
        {
            "store": {"uri": uri},
            "teacher": {"backend": "reference"},
            "training": {"base_model": str(tiny_base)},
            "evaluation": {"max_items_per_task": 2, "batch_size": 4, "max_new_tokens": 4},
        }
    )
