"""Non-pad tokens/s of mkd's training loop vs a plain transformers+peft loop, same run.

    python benchmarks/bench_train.py [--quick] [--steps N] [--data DIR]

It reports the processor's ISA, then measures in fresh interpreters: mkd's loop vs the plain loop
in fp32 and (where the CPU has AVX-512-BF16 or AMX) with bf16 base weights; OpenMP's PASSIVE wait
policy (what Ray Train workers get) against its default; and mkd's loop against TRL's
SFTTrainer with padding-free batches and a completion-only loss on the same examples.

Both loops train the same LoRA (same config, seed, records, prompts, micro-batch size) on the
same base model. The baseline is what a plain script does: one row per example, batches in
sampled order padded to their longest sequence, `model(..., labels=...)` (the LM head over every
position). mkd's loop packs each query's tasks into one row over their shared prompt prefix,
buckets by length and runs the LM head on answer positions only. Tokens are the examples' own
(a packed row counts each example's full prompt), so the ratio is training throughput. Steps of the two loops
alternate, so that load from other processes on a shared machine hits both alike.
--quick: a tiny random Llama (real tokenizer) and few steps, for CI.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

FIXTURE = Path(__file__).parents[1] / "tests" / "data" / "training"
TASKS = ["currency_identifier", "date_interpretation", "entity_extractor", "query_classifier"]


def _inputs(
    data: Path,
    base_model: str,
    steps: int,
    threads: int,
    batch_size: int = 8,
    gpu: bool = False,
    pad_to_multiple_of: int = 1,
    packing: str = "shared_prefix",
) -> Any:
    from mkd.training.loop import LoopInputs

    rows = lambda s: [json.loads(x) for x in (data / f"{s}.jsonl").read_text().splitlines()]  # noqa: E731
    training = {"base_model": base_model, "max_steps": steps, "batch_size": batch_size,
                "optimizer": {"warmup_steps": 1}, "pad_to_multiple_of": pad_to_multiple_of,
                "packing": packing,
                "scaling": {"torch_threads": threads, "use_gpu": gpu}}  # fmt: skip
    return LoopInputs(training, "finance", TASKS, 42, rows("train"), rows("val")[:8])


def _baseline_step(t: Any, indices: list[int]) -> tuple[float, int, int, int]:
    """One step of the plain loop: HF forward with labels (full logits), backward, AdamW."""
    from mkd.training.data import collate

    batch = collate([t.train[i] for i in indices], t.tokenizer.pad_token_id, TASKS,
                    t.cfg.pad_to_multiple_of)  # fmt: skip
    batch = {k: v.to(t.device) for k, v in batch.items()}
    _sync(t.device)
    started = time.perf_counter()
    with t.autocast():
        out = t.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                      labels=batch["labels"])  # fmt: skip
    out.loss.backward()
    t.optimizer.step()
    t.optimizer.zero_grad(set_to_none=True)
    _sync(t.device)
    seconds = time.perf_counter() - started
    mask = batch["attention_mask"]
    real, size = int(mask.sum()), mask.numel()
    return seconds, real, size - real, size


def compare_loops(
    mkd: Any, plain: Any, batch_size: int, steps: int, warmup: int = 1
) -> dict[str, Any]:
    """Alternate `steps` steps of mkd's loop and of the plain loop (after `warmup` uncounted
    steps each); non-pad tokens/s, padding ratios and the ratio mkd / baseline."""
    from mkd.training.batching import plain_batches
    from mkd.training.loop import train_step

    stream = [i for b in plain.schedule.batches for i in b]  # same sampled examples, unbucketed
    random.Random(0).shuffle(stream)
    plain_order = plain_batches(stream, batch_size)
    totals = {"mkd": [0.0, 0, 0, 0], "baseline": [0.0, 0, 0, 0]}
    for step in range(steps + warmup):
        _sync(mkd.device)
        started = time.perf_counter()
        r = train_step(mkd, step, 0)
        _sync(mkd.device)
        seconds = time.perf_counter() - started
        measured = {"mkd": (seconds, r["tokens"], r["padding"], r["padded"]),
                    "baseline": _baseline_step(plain, plain_order[step])}  # fmt: skip
        for name, values in measured.items():
            if step >= warmup:
                totals[name] = [a + b for a, b in zip(totals[name], values, strict=True)]
    result: dict[str, Any] = {}
    for name, (sec, real, padding, padded) in totals.items():
        result[f"{name}_tokens_per_s"] = round(real / sec, 1)
        result[f"{name}_padding_ratio"] = round(padding / padded, 4)
    result["ratio"] = round(result["mkd_tokens_per_s"] / result["baseline_tokens_per_s"], 3)
    return result


def _sync(device: Any) -> None:
    """Wait for queued GPU work, so that wall time covers it (no-op on CPU); `device` is a
    torch.device or its name."""
    import torch

    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _trl_step_seconds(t: Any, order: list[list[int]], steps: int, warmup: int) -> dict[str, Any]:
    """TRL's SFTTrainer on the same examples: padding-free (one flattened row a batch, position_ids
    restarting per example) and completion-only loss, the same LoRA on the same base weights.

    Without FlashAttention (a CPU), transformers' sdpa does not split the flattened row by
    position_ids, so TRL's examples attend across each other: a speed reference, not a recipe."""
    import datasets
    from transformers import TrainerCallback
    from trl import SFTConfig, SFTTrainer

    # A base loaded from GGUF keeps its (spent) quantizer; its weights are plain tensors, and
    # transformers' Trainer refuses a model that still names a quantizer it cannot train.
    base = t.model.get_base_model()
    base.hf_quantizer = None
    base.config.__dict__.pop("quantization_config", None)
    with contextlib.suppress(AttributeError):
        base.is_quantized = False
    rows = [t.train[i] for b in order[: steps + warmup] for i in b]
    data = datasets.Dataset.from_list(
        [{"input_ids": list(e.input_ids),
          "completion_mask": [0] * e.prompt_len + [1] * (len(e.input_ids) - e.prompt_len)}
         for e in rows]
    )  # fmt: skip
    times: list[float] = []

    class Timer(TrainerCallback):
        def on_step_begin(self, args, state, control, **kw):
            self.started = time.perf_counter()

        def on_step_end(self, args, state, control, **kw):
            times.append(time.perf_counter() - self.started)

    with tempfile.TemporaryDirectory() as out:
        args = SFTConfig(
            output_dir=out, per_device_train_batch_size=len(order[0]), max_steps=steps + warmup,
            padding_free=True, completion_only_loss=True, learning_rate=t.cfg.optimizer.lr,
            lr_scheduler_type="constant", report_to=[], logging_strategy="no",
            save_strategy="no", use_cpu=True, dataloader_drop_last=False, max_length=None,
            dataset_num_proc=None, seed=0,
        )  # fmt: skip
        trainer = SFTTrainer(model=t.model, args=args, train_dataset=data,
                             processing_class=t.tokenizer, callbacks=[Timer()])  # fmt: skip
        trainer.train()
    batch = len(order[0])
    tokens = sum(len(e.input_ids) for e in rows[warmup * batch : (steps + warmup) * batch])
    return {"trl_tokens_per_s": round(tokens / sum(times[warmup:]), 1), "trl_steps": steps}


def _worker(spec: dict[str, Any]) -> dict[str, Any]:
    """One measurement in this process (its OMP_WAIT_POLICY was set before torch started):
    mkd's loop against the plain loop, or against TRL, at one precision."""
    import torch
    from mkd.hardware import cpu_dtype
    from mkd.training.loop import setup
    from mkd.training.sessions import LocalSession

    with tempfile.TemporaryDirectory() as tmp:
        base = spec["base"]
        if base == "tiny":
            from mkd.training.tiny import build_tiny_student

            base = str(build_tiny_student(Path(tmp) / "tiny"))
        inp = _inputs(Path(spec["data"]), base, spec["steps"] + 2, spec["threads"])
        inp.training["precision"] = spec["precision"]
        mkd = setup(inp, LocalSession(Path(tmp) / "a"))
        peer = setup(inp, LocalSession(Path(tmp) / "b"))
    out = {"precision": spec["precision"], "dtype": cpu_dtype(spec["precision"]),
           "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "(default)"),
           "threads": torch.get_num_threads()}  # fmt: skip
    if spec["peer"] == "plain":
        return out | compare_loops(mkd, peer, inp.cfg.batch_size, spec["steps"])
    from mkd.training.batching import plain_batches

    mine = compare_loops(mkd, peer, inp.cfg.batch_size, spec["steps"])
    stream = [i for b in peer.schedule.batches for i in b]
    order = plain_batches(stream, inp.cfg.batch_size * len(TASKS))
    trl = _trl_step_seconds(peer, order, spec["steps"], warmup=1)
    ratio = round(mine["mkd_tokens_per_s"] / trl["trl_tokens_per_s"], 3)
    return out | {"mkd_tokens_per_s": mine["mkd_tokens_per_s"], **trl, "ratio_vs_trl": ratio}


def _run_worker(spec: dict[str, Any], omp_wait_policy: str | None) -> dict[str, Any]:
    """`_worker` in a fresh interpreter: OpenMP reads its wait policy once, at start."""
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if omp_wait_policy:
        env["OMP_WAIT_POLICY"] = omp_wait_policy
    done = subprocess.run(
        [sys.executable, __file__, "--worker", json.dumps(spec)],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    lines = [x for x in done.stdout.splitlines() if x.startswith("{")]
    if done.returncode or not lines:
        raise RuntimeError(f"bench worker {spec} failed:\n{done.stderr[-3000:]}")
    return json.loads(lines[-1])


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Precision (fp32 vs bf16 where the CPU has bf16 instructions), OpenMP wait policy, and
    mkd's loop against the plain loop and TRL; print and return tokens/s and ratios."""
    from mkd.hardware import cpu_info
    from mkd.models.uris import DEFAULT_STUDENT_URI

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny model, few steps (CI)")
    ap.add_argument("--steps", type=int, default=None, help="measured steps per loop")
    ap.add_argument("--data", type=Path, default=FIXTURE, help="dir with train/val.jsonl")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = all cores)")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        result = _worker(json.loads(args.worker))
        print(json.dumps(result))
        return result
    info = cpu_info()
    spec = {"base": "tiny" if args.quick else DEFAULT_STUDENT_URI, "data": str(args.data),
            "steps": args.steps or (4 if args.quick else 12), "threads": args.threads}  # fmt: skip
    print(f"CPU: {info.model}; ISA {info.isa}; {info.cores} cores", flush=True)
    precisions = ["fp32", "bf16"] if info.fast_bf16 else ["fp32"]
    by_precision = {p: _run_worker(spec | {"precision": p, "peer": "plain"}, "PASSIVE")
                    for p in precisions}  # fmt: skip
    for p, r in by_precision.items():
        print(f"{p:5s} ({r['dtype']} base): mkd {r['mkd_tokens_per_s']} tok/s, plain loop "
              f"{r['baseline_tokens_per_s']} tok/s ({r['ratio']}x)", flush=True)  # fmt: skip
    if not info.fast_bf16:
        print("bf16: not measured (no AVX-512-BF16/AMX: PyTorch falls back to a slow kernel; "
              "precision auto trains in fp32 here)")  # fmt: skip
    best = max(by_precision, key=lambda p: by_precision[p]["mkd_tokens_per_s"])
    active = _run_worker(spec | {"precision": best, "peer": "plain"}, "ACTIVE")
    passive = by_precision[best]["mkd_tokens_per_s"]
    print(f"OpenMP wait: PASSIVE {passive} tok/s, ACTIVE (OpenMP's default) "
          f"{active['mkd_tokens_per_s']} tok/s ({best})", flush=True)  # fmt: skip
    trl = _run_worker(spec | {"precision": best, "peer": "trl"}, "PASSIVE")
    print(f"vs TRL SFTTrainer (padding-free, completion-only loss, {best}): mkd "
          f"{trl['mkd_tokens_per_s']} tok/s, TRL {trl['trl_tokens_per_s']} tok/s "
          f"({trl['ratio_vs_trl']}x; target >= 1.0)", flush=True)  # fmt: skip
    result = {"base_model": spec["base"], "steps": spec["steps"], "isa": info.isa,
              "fast_bf16": info.fast_bf16, "chosen_precision": best,
              "by_precision": by_precision, "omp_active": active, "trl": trl}  # fmt: skip
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
