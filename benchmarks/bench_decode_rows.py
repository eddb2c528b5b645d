"""One decode forward of the lean runtime by token rows: int8 against bf16 weights.

    OMP_WAIT_POLICY=ACTIVE python benchmarks/bench_decode_rows.py [--threads N] [--repeats R]

Each measurement prefills `--prompt` random tokens a row, then times one forward of one new
token a row (the median over the repeats, the first two dropped). It shows whether decode is
bound by the int8 kernel, by memory or by per-op overhead on this processor, and where
`mkd.models.lean_llama.DECODE_ROWS` (int8 up to that many rows, bf16 above) stands here.
The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time


def decode_ms(lean, rows: int, prompt: int, repeats: int) -> float:
    """Median milliseconds of one decode forward of `rows` rows after a `prompt`-token prefill."""
    import torch

    times = []
    for _ in range(repeats + 2):
        cache = lean.new_cache(rows)
        lean.forward(torch.randint(100, 1000, (rows, prompt)), past_key_values=cache,
                     logits_to_keep=1)  # fmt: skip
        step = torch.randint(100, 1000, (rows, 1))
        started = time.perf_counter()
        lean.forward(step, past_key_values=cache, logits_to_keep=1)
        times.append(time.perf_counter() - started)
    return round(statistics.median(times[2:]) * 1000, 1)


def main(argv: list[str] | None = None) -> dict[str, float]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1, help="torch threads (the Student's: 1)")
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--prompt", type=int, default=40, help="prompt tokens a row before the step")
    ap.add_argument("--rows", default="1,2,4,8,16", help="token rows to measure")
    opts = ap.parse_args(argv)
    import torch
    from mkd.hardware import cpu_info
    from mkd.models import load_student
    from mkd.models.lean_llama import LeanLlama
    from mkd.models.uris import DEFAULT_STUDENT_URI

    torch.set_num_threads(opts.threads)
    model, _ = load_student(DEFAULT_STUDENT_URI, dtype="float32")
    out: dict[str, float] = {}
    print(f"cpu {cpu_info()}, {opts.threads} thread(s)")
    for int8 in (True, False):
        lean = LeanLlama(model, "bfloat16", int8_decode=int8)
        for rows in (int(r) for r in opts.rows.split(",")):
            key = f"{'int8' if int8 else 'bf16'}_rows{rows}_ms"
            out[key] = decode_ms(lean, rows, opts.prompt, opts.repeats)
            print(f"{key:20s} {out[key]:8.1f}", flush=True)
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
