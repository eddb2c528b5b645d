"""Run every benchmark in one go and write benchmarks/results/<date>.md.

Each bench_*.py module has `main(quick: bool) -> dict` and prints its figures as ratios against a
baseline measured in the same run; this script captures both, with the machine and library
versions, so results from different days and machines can be compared honestly.

    python benchmarks/run_all.py [--quick] [--only label,serve]

A run with --only writes benchmarks/results/<date>-<names>.md (never over the day's full file).
bench_gpu is skipped without a CUDA GPU (with --quick it smoke-tests itself on the CPU).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib.util
import inspect
import io
import json
import os
import platform
import sys
import time
import traceback
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).parent
LIBRARIES = ["torch", "transformers", "peft", "ray", "mkd"]


class _Tee(io.TextIOBase):
    """Write to the terminal and keep a copy for the results file."""

    def __init__(self, *streams):
        self.streams = streams

    def write(self, s: str) -> int:
        for stream in self.streams:
            stream.write(s)
        return len(s)

    def flush(self) -> None:
        for stream in self.streams:
            stream.flush()


def machine() -> dict[str, str]:
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    versions = {}
    for lib in LIBRARIES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[lib] = metadata.version(lib)
    return {
        "cpus": str(os.cpu_count()),
        "memory_gib": f"{mem_gib:.1f}",
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        **{f"version {k}": v for k, v in versions.items()},
    }


def load_bench(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module


def run_one(path: Path, quick: bool) -> tuple[str, dict | None, float, str | None]:
    buffer = io.StringIO()
    started = time.perf_counter()
    error = None
    result = None
    with contextlib.redirect_stdout(_Tee(sys.stdout, buffer)):
        try:
            main = load_bench(path).main
            if "argv" in inspect.signature(main).parameters:  # argparse-style benches
                result = main(["--quick"] if quick else [])
            else:
                result = main(quick=quick)
        except Exception:  # one broken benchmark must not hide the others' figures
            error = traceback.format_exc()
            print(error)
    return buffer.getvalue(), result, time.perf_counter() - started, error


def render(results: list[tuple[str, str, dict | None, float, str | None]], quick: bool) -> str:
    lines = [f"# Benchmarks {dt.date.today().isoformat()}{' (quick)' if quick else ''}", ""]
    lines += ["| machine | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in machine().items()]
    for name, printed, result, seconds, error in results:
        lines += ["", f"## {name} ({seconds:.0f} s){' — FAILED' if error else ''}", ""]
        lines += ["```", printed.rstrip() or "(no output)", "```"]
        if result is not None:
            lines += ["", "<details><summary>figures (JSON)</summary>", "", "```json"]
            lines += [json.dumps(result, indent=2, default=str), "```", "</details>"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a first look")
    parser.add_argument("--only", default="", help="comma-separated names (label,train,serve...)")
    args = parser.parse_args(argv)
    only = {n.strip() for n in args.only.split(",") if n.strip()}
    paths = sorted(HERE.glob("bench_*.py"))
    paths = [p for p in paths if not only or p.stem.removeprefix("bench_") in only]
    results = []
    for path in paths:
        print(f"\n=== {path.stem} ===", flush=True)
        printed, result, seconds, error = run_one(path, args.quick)
        results.append((path.stem, printed, result, seconds, error))
    out_dir = HERE / "results"
    out_dir.mkdir(exist_ok=True)
    # a partial run (--only) gets its own file: it must not replace the day's full results
    suffix = ("-quick" if args.quick else "") + ("-" + "-".join(sorted(only)) if only else "")
    out = out_dir / f"{dt.date.today().isoformat()}{suffix}.md"
    out.write_text(render(results, args.quick), encoding="utf-8")
    print(f"\nwrote {out}")
    return 1 if any(r[4] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
