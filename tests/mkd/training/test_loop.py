"""The loop on a tiny Llama: it learns, checkpoints, and a resumed run equals an unbroken one."""

import shutil

import pytest
from mkd.training.loop import LoopInputs, lr_factor, run_loop
from mkd.training.sessions import LocalSession

TASKS = ["currency_identifier", "date_interpretation", "entity_extractor", "query_classifier"]


def inputs(model_dir, train_rows, val_rows, **training) -> LoopInputs:
    training = {"base_model": str(model_dir), "batch_size": 4, "max_steps": 12, "log_every": 2,
                "eval_every": 6, "checkpoint_every": 6, "optimizer": {"lr": 3e-3, "warmup_steps": 2},
                "scaling": {"torch_threads": 1}, "eval_batches": 2, **training}  # fmt: skip
    return LoopInputs(training, "finance", TASKS, 42, train_rows, val_rows)


def test_warmup_then_cosine():
    assert lr_factor(0, 4, 100, True, 0.1) == pytest.approx(0.25)
    assert lr_factor(4, 4, 100, True, 0.1) == pytest.approx(1.0)
    assert lr_factor(100, 4, 100, True, 0.1) == pytest.approx(0.1)
    assert lr_factor(50, 4, 100, False, 0.1) == 1.0


@pytest.mark.slow
def test_loss_falls_and_metrics_are_complete(tiny_model_dir, train_rows, val_rows, tmp_path):
    state = run_loop(inputs(tiny_model_dir, train_rows, val_rows), LocalSession(tmp_path))
    train_lines = [h for h in state.history if "loss" in h]
    vals = [h["val_loss"] for h in state.history if "val_loss" in h]
    assert state.step == 12 and len(vals) == 2
    assert train_lines[-1]["loss"] < train_lines[0]["loss"]
    assert vals[-1] < vals[0]
    last = train_lines[-1]
    assert set(last["task_loss"]) <= set(TASKS) and last["tokens_per_s"] > 0
    assert 0 <= last["padding_ratio"] < 0.15


@pytest.mark.slow
def test_resume_continues_exactly(tiny_model_dir, train_rows, val_rows, tmp_path):
    broken = LocalSession(tmp_path)
    full = run_loop(inputs(tiny_model_dir, train_rows, val_rows), broken)
    # the same run "killed" after its step-6 checkpoint: drop the final checkpoint and resume
    shutil.rmtree(tmp_path / "checkpoints" / "step_12")
    resumed = run_loop(inputs(tiny_model_dir, train_rows, val_rows), broken)
    assert resumed.resumed_from == [6] and resumed.step == 12
    final = lambda s: [h["val_loss"] for h in s.history if "val_loss" in h][-1]  # noqa: E731
    assert final(resumed) == pytest.approx(final(full), rel=1e-4)


@pytest.mark.slow
def test_early_stopping(tiny_model_dir, train_rows, val_rows, tmp_path):
    # lr 0 cannot improve the val loss: patience 1 stops at the second evaluation
    inp = inputs(tiny_model_dir, train_rows, val_rows, max_steps=30, eval_every=3,
                 early_stopping_patience=1, optimizer={"lr": 1e-12, "warmup_steps": 0})  # fmt: skip
    session = LocalSession(tmp_path)
    state = run_loop(inp, session)
    assert state.step == 6 and session.reports[-1]["early_stopped"] is True
