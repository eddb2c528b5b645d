"""bench_serve's command line and its last line, without a cluster: the measuring functions are
replaced by canned figures (the real ones need a model and Ray; `python benchmarks/bench_serve.py
--quick` runs them)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_serve.py"
KEYS = [
    "router_share_p50_ms", "student_p50_ms_c1", "student_p99_ms_c1", "student_p50_ms_c8",
    "student_p99_ms_c8", "student_p50_ms_c50", "student_p99_ms_c50", "shed_c50", "engine",
]  # fmt: skip


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_serve", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_serve"] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("bench_serve", None)


def test_the_defaults_measure_one_eight_and_fifty_clients_briefly(bench):
    opts = bench.parse_args([])
    assert (opts.quick, opts.clients, opts.per_level, opts.requests) == (
        False,
        (1, 8, 50),
        24,
        None,
    )
    opts = bench.parse_args(["--quick", "--clients", "1,8", "--per-level", "6"])
    assert (opts.quick, opts.clients, opts.per_level) == (True, (1, 8), 6)
    assert opts.omp_wait_policy == "PASSIVE"  # a multi-thread Student sleeps, not spins
    assert bench.parse_args(["--omp-wait-policy", "ACTIVE"]).omp_wait_policy == "ACTIVE"
    assert bench.parse_args(["--adapter", "store/a"]).adapter == "store/a"
    opts = bench.parse_args(["--gguf", "s.gguf", "--max-pending-answers", "8"])
    assert (opts.gguf, opts.max_pending_answers) == (Path("s.gguf"), 8)


@pytest.mark.parametrize("bad", ["0,8", "a", ""])
def test_bad_client_counts_are_refused_naming_the_option(bench, bad, capsys):
    with pytest.raises(SystemExit):
        bench.parse_args(["--clients", bad])
    assert "--clients" in capsys.readouterr().err


def test_the_routers_server_timing_header_reads_as_milliseconds(bench):
    value = "router;dur=1.250, body;dur=2.000, models;dur=30.000"
    assert bench.server_timing(value) == {"router": 1.25, "body": 2.0, "models": 30.0}


def test_load_figures_count_only_student_answers_and_the_shed_share(bench):
    samples = {
        1: [(100.0, "student"), (120.0, "student"), (140.0, "student")],
        50: [(900.0, "student"), (1000.0, "shed"), (1010.0, "shed"), (990.0, "shed")],
        8: [(1000.0, "shed")],
    }
    figures = bench.load_figures(samples)
    assert figures["student_p50_ms_c1"] == 120.0 and figures["shed_c1"] == 0
    assert figures["student_p50_ms_c50"] == 900.0 and figures["shed_c50"] == 0.75
    assert figures["student_p50_ms_c8"] is None and figures["shed_c8"] == 1.0


def test_the_last_line_is_one_json_object_with_every_figure(bench, monkeypatch, capsys):
    served = {k: 1.234567 for k in KEYS} | {"engine": "transformers", "shed_c50": float("nan")}
    monkeypatch.setattr(
        bench, "forwards_per_answer", lambda uri, n, adapter: {"forward_reduction": 2.0}
    )
    runtimes = {"runtime": "lean bfloat16", "runtime_speedup": 2.0}
    monkeypatch.setattr(bench, "runtime_figures", lambda uri, adapter, threads: runtimes)
    monkeypatch.setattr(bench, "serve_figures", lambda uri, n, clients, *rest: served)
    cpp = {"llamacpp": "not installed", "vs_llamacpp_one_task": 1.5}
    monkeypatch.setattr(bench, "llamacpp_figures", lambda gguf, uri, adapter, threads: cpp)
    monkeypatch.setattr(bench, "guard_overhead", lambda: {"guard_overhead_p50_ms": 0.5})
    returned = bench.main([])
    last = capsys.readouterr().out.strip().splitlines()[-1]
    figures = json.loads(last)
    assert set(KEYS) | {"model", "forward_reduction", "guard_overhead_p50_ms"} <= set(figures)
    assert figures["runtime_speedup"] == 2.0 and figures["runtime"] == "lean bfloat16"
    assert figures["router_share_p50_ms"] == 1.23 and figures["engine"] == "transformers"
    assert figures["vs_llamacpp_one_task"] == 1.5
    assert figures["shed_c50"] is None  # not finite: null, never NaN (which JSON lacks)
    assert returned["guard_overhead_p50_ms"] == 0.5
