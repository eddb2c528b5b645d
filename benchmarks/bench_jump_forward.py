"""Forwards per answer and wall time of a trained student, jump-forward on vs off (issue 20).

Uses a demo store: the test split of its dataset and a registered adapter. Every figure is a
ratio within this run (same model, same answers); answers must be identical and schema-valid.

    python benchmarks/bench_jump_forward.py --store mkd-demo/store --version 1 --queries 25
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path


def _engine(store: Path, name: str, version: str):
    import torch
    from mkd.serve.config import StudentArgs
    from mkd.tasks import load_pack

    from serving.student import student_engine

    torch.set_num_threads(1)
    pack = load_pack("finance")
    args = StudentArgs(adapter=str(store / "registry" / name / version / "adapter"))
    return pack, student_engine(args, pack)


def _queries(store: Path, n: int) -> list[str]:
    test = sorted(store.glob("datasets/*/*/test.jsonl"))[-1]
    rows = [json.loads(x) for x in test.read_text().splitlines() if x.strip()]
    return list(dict.fromkeys(r["input"] for r in rows))[:n]


def run(store: Path, name: str, version: str, n: int, singles: int) -> dict:
    from mkd.inference import EngineItem

    pack, engine = _engine(store, name, version)
    items = [
        EngineItem(t, q, {"as_of": "2026-01-15"}) for q in _queries(store, n) for t in pack.tasks
    ]
    # in a batch, forwards count the ones a row spends waiting for a long forced run's tail
    out: dict = {"answers": len(items)}
    texts = {}
    for jump in (True, False):
        key = "jump_forward" if jump else "token_by_token"
        engine.decoder.jump_forward = jump
        answers = engine.generate(items)  # also warms the grammar-state token sets
        out[key] = round(statistics.fmean(a.forwards for a in answers), 2)
        out[key + "_valid"] = sum(a.problem is None for a in answers) / len(answers)
        texts[key] = [json.dumps(a.output, sort_keys=True) for a in answers]
        started = time.perf_counter()
        engine.generate(items)
        out[key + "_batched_s"] = round(time.perf_counter() - started, 2)
        single, alone = [], []
        for item in items[:singles]:
            started = time.perf_counter()
            alone += engine.generate([item])
            single.append((time.perf_counter() - started) * 1000)
        out[key + "_single_p50_ms"] = round(statistics.median(single), 1)
        out[key + "_single_forwards"] = round(statistics.fmean(a.forwards for a in alone), 2)
    out["forward_reduction"] = round(out["token_by_token"] / out["jump_forward"], 3)
    single_tbt, single_jf = (
        out["token_by_token_single_forwards"],
        out["jump_forward_single_forwards"],
    )
    out["single_forward_reduction"] = round(single_tbt / single_jf, 3)
    same = zip(texts["jump_forward"], texts["token_by_token"], strict=True)
    out["identical_answers"] = sum(a == b for a, b in same) / len(items)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, default=Path("mkd-demo/store"))
    parser.add_argument("--name", default="finance-student")
    parser.add_argument("--version", default="1")
    parser.add_argument("--queries", type=int, default=25)
    parser.add_argument("--singles", type=int, default=100)
    args = parser.parse_args()
    print(
        json.dumps(run(args.store, args.name, args.version, args.queries, args.singles), indent=1)
    )


if __name__ == "__main__":
    main()
