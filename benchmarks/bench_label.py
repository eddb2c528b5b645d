"""Labeling throughput through the HTTP path: `mkd teacher serve --latency-ms 1000` + openai backend.

    python benchmarks/bench_label.py [--quick]

Prints items/s at concurrency 8, 32 and 64 next to the ideal bound (concurrency / latency) and
the speed-up over a sequential loop measured in the same run. Target: >= 0.8 of the bound at 32.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from mkd.config.teacher import TeacherConfig
from mkd.services.ports import free_ports, wait_for_port
from mkd.tasks import load_pack
from mkd.teachers.base import LabelRequest
from mkd.teachers.openai_backend import OpenAITeacher


def _requests(pack, n: int) -> list[LabelRequest]:
    lines = pack.data_file("data/curated.jsonl").read_text(encoding="utf-8").splitlines()
    tasks = list(pack.tasks)
    out = []
    for i in range(n):
        prompt = json.loads(lines[i % len(lines)])
        out.append(LabelRequest(f"b{i}", tasks[i % len(tasks)], prompt["input"], None))
    return out


def _items_per_s(url: str, pack, concurrency: int, n: int) -> float:
    cfg = TeacherConfig(base_url=url, concurrency=concurrency, timeout_s=60, max_retries=0)
    teacher = OpenAITeacher(cfg, pack)
    started = time.monotonic()
    results = teacher.label(_requests(pack, n))
    elapsed = time.monotonic() - started
    failed = [r.error for r in results if not r.ok]
    if failed:
        raise RuntimeError(f"{len(failed)} request(s) failed, e.g. {failed[0]}")
    return n / elapsed


def main(quick: bool = False, latency_ms: float = 1000.0) -> dict:
    """Run the benchmark against a fresh `mkd teacher serve`; returns the figures."""
    pack = load_pack("finance")
    port = free_ports(1)[0]
    mkd = str(Path(sys.executable).parent / "mkd")
    cmd = [mkd, "teacher", "serve", "--backend", "reference", "--port", str(port)]
    cmd += ["--latency-ms", str(latency_ms), "--tokenizer", "estimate"]
    server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, env={**os.environ})
    try:
        wait_for_port(port, timeout=120)
        url = f"http://127.0.0.1:{port}/v1"
        latency = latency_ms / 1000
        _items_per_s(url, pack, 4, 8)  # warm-up: the labeler's lazy first-call setup
        sequential = _items_per_s(url, pack, 1, 3 if quick else 5)
        figures = {"latency_s": latency, "sequential_items_per_s": round(sequential, 3)}
        for c in (8, 32, 64):
            n = c * (2 if quick else 4)
            rate = _items_per_s(url, pack, c, n)
            bound = c / latency
            figures[f"c{c}"] = {
                "items_per_s": round(rate, 2),
                "ideal_bound": bound,
                "fraction_of_bound": round(rate / bound, 3),
                "speedup_vs_sequential": round(rate / sequential, 1),
            }
            print(
                f"concurrency {c:3d}: {rate:6.1f} items/s  bound {bound:5.1f}  "
                f"{rate / bound:5.1%} of bound  {rate / sequential:5.1f}x sequential "
                f"({sequential:.2f} items/s)"
            )
        target = figures["c32"]["fraction_of_bound"] >= 0.8
        print(f"target >= 0.8 of the bound at 32: {'met' if target else 'NOT met'}")
        return figures
    finally:
        server.kill()
        server.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer items per concurrency level")
    parser.add_argument("--latency-ms", type=float, default=1000.0)
    args = parser.parse_args()
    print(json.dumps(main(args.quick, args.latency_ms), indent=2))
