"""The loop on a tiny Llama: it learns, checkpoints, and a resumed run equals an unbroken one."""

import shutil
from types import SimpleNamespace

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
    assert lr_factor(0, 4, 0.0, True, 0.1) == pytest.approx(0.25)
    assert lr_factor(4, 4, 0.0, True, 0.1) == pytest.approx(1.0)
    assert lr_factor(60, 4, 0.5, True, 0.1) == pytest.approx(0.55)
    assert lr_factor(100, 4, 1.0, True, 0.1) == pytest.approx(0.1)
    assert lr_factor(50, 4, 0.5, False, 0.1) == 1.0


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


@pytest.mark.slow
def test_a_time_budget_stops_the_run_and_keeps_the_best_validation_point(
    tiny_model_dir, train_rows, val_rows, tmp_path
):
    inp = inputs(tiny_model_dir, train_rows, val_rows, max_steps=0, epochs=50, eval_every=2,
                 checkpoint_every=100, budget_minutes=0.15)  # fmt: skip
    session = LocalSession(tmp_path)
    state = run_loop(inp, session)
    assert session.reports[-1]["budget_stopped"] is True
    assert 2 <= state.step < inp.cfg.max_steps or state.step < 50 * len(train_rows)
    assert state.wall_seconds < 0.15 * 60 + 10  # stopped at the budget, not at the schedule's end
    assert state.epochs > 0 and state.best_step is not None
    vals = [h for h in state.history if "val_agreement" in h]
    assert all(set(h["val_task_agreement"]) <= set(TASKS) for h in vals)
    best = max(h["val_agreement"] for h in vals)
    assert state.best_val_agreement == best
    restored = [h["restored_step"] for h in state.history if "restored_step" in h]
    assert restored in ([], [state.best_step])


@pytest.mark.slow
def test_precision_fp32_is_chosen_on_a_cpu_without_bf16_and_forced_by_config(
    tiny_model_dir, train_rows, val_rows, tmp_path, monkeypatch
):
    from mkd import hardware
    from mkd.training.loop import setup

    no_bf16 = hardware.CpuInfo("a cpu", 2, (), "AVX2")
    with_bf16 = hardware.CpuInfo("a cpu", 2, ("avx512_bf16",), "AVX512")
    assert hardware.cpu_dtype("auto", no_bf16) == "float32"
    assert hardware.cpu_dtype("auto", with_bf16) == "bfloat16"
    assert hardware.cpu_dtype("fp32", with_bf16) == "float32"
    monkeypatch.setattr(hardware, "cpu_info", lambda: no_bf16)
    t = setup(inputs(tiny_model_dir, train_rows, val_rows), LocalSession(tmp_path / "a"))
    assert t.state.precision == {"setting": "auto", "dtype": "float32", "isa": "AVX2 (no bf16 ISA)",
                                 "cpu": "a cpu"}  # fmt: skip
    forced = inputs(tiny_model_dir, train_rows, val_rows, precision="bf16")
    t = setup(forced, LocalSession(tmp_path / "b"))
    assert t.state.precision["dtype"] == "bfloat16"
    lora = [p for p in t.model.parameters() if p.requires_grad]
    assert lora and all(p.dtype.is_floating_point and p.dtype.itemsize == 4 for p in lora)


def _clock_worker(rank: int, port: int, out: dict) -> None:
    import torch.distributed as dist
    from mkd.training.loop import _agreed_clock

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    t = SimpleNamespace(schedule=SimpleNamespace(world_size=2))
    out[rank] = _agreed_clock(t, 10.0 + 5 * rank, 1.0 + rank)  # rank 1 is the slower one
    dist.destroy_process_group()


def test_workers_agree_on_the_clock_that_drives_the_lr_and_the_budget_stop() -> None:
    # Each worker times its own loop; a budget stop or an lr read off unshared clocks would let
    # one worker stop (and the other hang in its next all-reduce) or drift apart.
    import socket

    import torch.multiprocessing as mp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with mp.Manager() as manager:
        out = manager.dict()
        mp.spawn(_clock_worker, args=(port, out), nprocs=2)
        assert out[0] == out[1] == (15.0, 2.0)
