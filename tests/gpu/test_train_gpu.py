"""GPU training backends for a few steps: QLoRA, Unsloth, DeepSpeed ZeRO-2/3 (marker gpu).

Run on a GPU node with the `gpu-train` extra installed (the -cuda-train image): pytest -m gpu tests/gpu/test_train_gpu.py
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.gpu

FIXTURE = Path(__file__).parents[1] / "data" / "training"
TASKS = ["currency_identifier", "date_interpretation", "entity_extractor", "query_classifier"]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")
    from mkd.training.tiny import build_tiny_student

    return build_tiny_student(tmp_path_factory.mktemp("tiny"), hidden=128, layers=2)


def run_steps(model_dir: Path, tmp_path: Path, **training):
    from mkd.training.loop import LoopInputs, run_loop
    from mkd.training.sessions import LocalSession

    rows = lambda s: [json.loads(x) for x in (FIXTURE / f"{s}.jsonl").read_text().splitlines()]  # noqa: E731
    training = {"base_model": str(model_dir), "max_steps": 6, "batch_size": 4, "eval_every": 3,
                "checkpoint_every": 3, "log_every": 1, "optimizer": {"warmup_steps": 1},
                "scaling": {"use_gpu": True}, **training}  # fmt: skip
    inp = LoopInputs(training, "finance", TASKS, 42, rows("train"), rows("val"))
    return run_loop(inp, LocalSession(tmp_path))


def assert_trained(state) -> None:
    losses = [h["loss"] for h in state.history if "loss" in h]
    assert state.step == 6 and all(loss == loss for loss in losses)  # no NaN
    assert losses[-1] < losses[0]


def test_qlora_nf4(tiny_model, tmp_path):
    pytest.importorskip("bitsandbytes")
    assert_trained(run_steps(tiny_model, tmp_path, backend="qlora"))


def test_unsloth(tiny_model, tmp_path):
    pytest.importorskip("unsloth")
    assert_trained(run_steps(tiny_model, tmp_path, backend="unsloth", packing="none"))


@pytest.mark.parametrize("stage", [2, 3])
def test_deepspeed_zero(tiny_model, tmp_path, stage, monkeypatch):
    pytest.importorskip("deepspeed")
    import torch.distributed as dist

    # a single-process group, as a Ray Train GPU worker has (world size 1 here)
    for key, value in {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29517", "RANK": "0",
                       "WORLD_SIZE": "1", "LOCAL_RANK": "0"}.items():  # fmt: skip
        monkeypatch.setenv(key, value)
    if not dist.is_initialized():
        dist.init_process_group("nccl")
    assert_trained(run_steps(tiny_model, tmp_path, deepspeed_stage=stage))
