"""Non-pad tokens/s of mkd's training loop vs a plain transformers+peft loop, same run.

    python benchmarks/bench_train.py [--quick] [--steps N] [--data DIR]

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
import json
import random
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


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run both loops; print and return tokens/s, the ratio and the padding ratios."""
    from mkd.models.uris import DEFAULT_STUDENT_URI
    from mkd.training.loop import setup
    from mkd.training.sessions import LocalSession

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny model, few steps (CI)")
    ap.add_argument("--steps", type=int, default=None, help="measured steps per loop")
    ap.add_argument("--data", type=Path, default=FIXTURE, help="dir with train/val.jsonl")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = all cores)")
    args = ap.parse_args(argv)
    steps = args.steps or (6 if args.quick else 20)
    with tempfile.TemporaryDirectory() as tmp:
        base = DEFAULT_STUDENT_URI
        if args.quick:
            from mkd.training.tiny import build_tiny_student

            base = str(build_tiny_student(Path(tmp) / "tiny"))
        inp = _inputs(args.data, base, steps + 1, args.threads)
        mkd = setup(inp, LocalSession(Path(tmp) / "a"))
        plain = setup(inp, LocalSession(Path(tmp) / "b"))
    totals = compare_loops(mkd, plain, inp.cfg.batch_size, steps)
    result = {"base_model": "tiny" if args.quick else base, "steps": steps, **totals}
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
