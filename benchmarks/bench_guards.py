"""Guard overhead per request: p50/p95 of the input and output checks on realistic queries.

Baseline (same run): the chain with every guard switched off, i.e. the call itself. Queries:
the finance pack's curated queries (benign traffic) and the red-team set's short items
(attack traffic). Each guard is also timed alone, to show where the time goes.

    python benchmarks/bench_guards.py            # every query, 5 repeats
    python benchmarks/bench_guards.py --quick    # 150 curated queries, 1 repeat (a smoke run)

Its figures, dated with the machine: benchmarks/results/ (run_all.py writes them).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

from mkd.config.guards import GuardsConfig
from mkd.guards import GuardChain
from mkd.guards.redteam import load_redteam
from mkd.tasks import load_pack


def _queries(pack: str) -> tuple[list[str], list[str]]:
    lines = load_pack(pack).data_file("data/curated.jsonl").read_text(encoding="utf-8").splitlines()
    benign = [json.loads(line)["input"] for line in lines if line.strip()]
    attacks = [i.text() for i in load_redteam(pack) if i.input is not None]
    return benign, attacks


def _time_ms(fn, args: list, repeats: int) -> list[float]:
    samples = []
    for _ in range(repeats):
        for a in args:
            t0 = time.perf_counter()
            fn(a)
            samples.append((time.perf_counter() - t0) * 1000)
    return samples


def _summary(samples: list[float]) -> dict[str, float]:
    q = statistics.quantiles(samples, n=100)
    return {"p50_ms": statistics.median(samples), "p95_ms": q[94], "n": len(samples)}


def _only(guard: str) -> GuardsConfig:
    off = {"enabled": False}
    sections = {g: off for g in ("limits", "pii", "injection", "domain")}
    sections[guard] = {"enabled": True}
    return GuardsConfig.model_validate(sections)


def main(quick: bool = False, pack: str = "finance") -> dict[str, Any]:
    """Measure and print; returns {"input": ..., "output": ..., "per_guard": ..., "baseline": ...}."""
    benign, attacks = _queries(pack)
    repeats = 1 if quick else 5
    if quick:
        benign = benign[:150]
    chain = GuardChain(GuardsConfig(), pack, path="bench")
    off = GuardChain(GuardsConfig(enabled=False), pack, path="bench")
    for q in benign[:20]:  # warm caches (lexicon, compiled patterns, phone metadata)
        chain.check_input(q)
    baseline = _summary(_time_ms(off.check_input, benign, repeats))
    result: dict[str, Any] = {
        "baseline": baseline,
        "input_benign": _summary(_time_ms(chain.check_input, benign, repeats)),
        "input_attacks": _summary(_time_ms(chain.check_input, attacks, repeats)),
    }
    entity = [{"name": "Apple", "type": "COMPANY"}, {"name": "revenue", "type": "METRIC"}]
    query = "What was Apple's revenue in FY2023?"
    result["output_entities"] = _summary(
        _time_ms(
            lambda v: chain.check_output("entity_extractor", query, v), [entity] * 200, repeats
        )
    )
    result["per_guard"] = {
        g: _summary(
            _time_ms(GuardChain(_only(g), pack, path="bench").check_input, benign, repeats)
        )["p50_ms"]
        for g in ("limits", "injection", "pii", "domain")
    }
    added = result["input_benign"]["p50_ms"] + result["output_entities"]["p50_ms"]
    result["added_p50_ms"] = added - baseline["p50_ms"]
    _print(result)
    return result


def _print(r: dict[str, Any]) -> None:
    base = r["baseline"]["p50_ms"]
    print(f"baseline (guards off) p50 {base * 1000:.1f} us")
    for key in ("input_benign", "input_attacks", "output_entities"):
        s = r[key]
        ratio = s["p50_ms"] / base if base else float("inf")
        print(
            f"{key:16s} p50 {s['p50_ms']:.3f} ms  p95 {s['p95_ms']:.3f} ms  ({ratio:.0f}x baseline, n={s['n']})"
        )
    print(
        "per guard alone, p50 ms: " + ", ".join(f"{g} {v:.3f}" for g, v in r["per_guard"].items())
    )
    print(
        f"added per request (input + output check) p50: {r['added_p50_ms']:.3f} ms (target <= 2 ms)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="Fewer queries and repeats.")
    parser.add_argument("--pack", default="finance")
    main(**vars(parser.parse_args()))
