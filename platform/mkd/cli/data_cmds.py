"""`mkd data import-logs`, `mkd review export|import|serve`: the dataset commands that are not
stages (`mkd label` and `mkd data build` are: mkd.cli.stage_cmds)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from mkd.cli.console import console, fail

data_app = typer.Typer(help="Build versioned datasets.", no_args_is_help=True)
review_app = typer.Typer(help="Human review of teacher labels.", no_args_is_help=True)
CONFIG = typer.Option(..., "-c", "--config", exists=True, dir_okay=False, help="Pipeline YAML.")


def register(app: typer.Typer) -> None:
    """Add `data` and `review` to the root app (`mkd label` and `mkd data build` are stage
    commands: mkd.cli.stage_cmds)."""
    app.add_typer(data_app, name="data")
    app.add_typer(review_app, name="review")


def _load(config: Path):
    from mkd.config import ConfigError, load_config
    from mkd.storage import open_store

    try:
        cfg = load_config(config)
    except ConfigError as exc:
        fail(str(exc), code=2)
    return cfg, open_store(cfg.store)


@data_app.command("import-logs")
def import_logs(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="Chat-completions JSONL."),
    config: Path = CONFIG,
) -> None:
    """Add logged teacher calls (OpenAI chat-completions request/response JSONL) to the dataset
    version as labeled records; the next `mkd data build` merges them. Lines that cannot be used
    are quarantined with their line number and reason (data.log_import says how a line names
    its task and where its query is).

    Example: mkd data import-logs teacher-calls.jsonl -c configs/pipeline.yaml
    """
    from mkd.data.log_import import import_log_lines, store_import
    from mkd.guards import GuardChain
    from mkd.tasks import load_pack

    cfg, store = _load(config)
    pack = load_pack(cfg.pack)
    guards = GuardChain(cfg.guards, pack, path="labeling") if cfg.guards.enabled else None
    data = file.read_bytes()
    result = import_log_lines(data, file.name, cfg.data.log_import, pack, guards)
    prefix = store_import(store, cfg.data.dataset, cfg.data.version, file.name, data, result)
    for row in result.quarantine[:10]:
        console.print(f"[yellow]quarantined[/] {row['id']}: {row['reason']}", highlight=False)
    if len(result.quarantine) > 10:
        console.print(f"... {len(result.quarantine) - 10} more in {store.uri_for(prefix)}")
    console.print(
        f"imported {len(result.records)} record(s), {result.duplicates} duplicate(s), "
        f"{len(result.quarantine)} quarantined -> {store.uri_for(prefix)}"
    )
    if not result.records:
        fail("no usable line in the file (see the quarantine reasons above)")


@review_app.command("export")
def review_export(
    config: Path = CONFIG,
    out: Path = typer.Option(Path("review"), "--out", help="Directory for review.csv/.jsonl."),
    per_task: int | None = typer.Option(None, "--per-task", help="Override the sample size."),
) -> None:
    """Export a stratified sample per task and label (CSV + JSONL) with the teacher's answers.

    Example: mkd review export -c configs/pipeline.yaml --out review/
    """
    from mkd.data.review import export_review
    from mkd.store_layout import work_prefix

    cfg, store = _load(config)
    key = work_prefix(cfg.data.dataset, cfg.data.version) + "labeled.jsonl"
    if not store.exists(key):
        fail(f"{store.uri_for(key)} does not exist: run `mkd label -c {config}` first")
    records = [json.loads(x) for x in store.get_bytes(key).splitlines() if x.strip()]
    n = per_task if per_task is not None else cfg.data.review_sample_per_task
    paths = export_review(records, out, n, cfg.seed)
    console.print(f"wrote {', '.join(map(str, paths))}: fill verdict (accept|correct)")


@review_app.command("import")
def review_import(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="Reviewed CSV or JSONL."),
    config: Path = CONFIG,
    reviewer: str | None = typer.Option(None, "--reviewer", help="Default reviewer name."),
) -> None:
    """Import verdicts and corrections; the next `mkd data build` applies them as overrides.

    Example: mkd review import review/review.csv -c configs/pipeline.yaml --reviewer alice
    """
    from mkd.data.review import parse_review, store_reviews
    from mkd.tasks import load_pack

    cfg, store = _load(config)
    reviews, problems = parse_review(file, load_pack(cfg.pack), reviewer)
    for p in problems:
        console.print(f"[red]✗[/] {p}", highlight=False)
    if problems:
        fail(f"{len(problems)} problem(s); nothing imported")
    key = store_reviews(store, cfg.data.dataset, cfg.data.version, reviews)
    corrected = sum(r["verdict"] == "correct" for r in reviews)
    console.print(
        f"imported {len(reviews)} review(s), {corrected} correction(s) -> {store.uri_for(key)}"
    )


@review_app.command("serve")
def review_serve(
    config: Path = CONFIG,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8765, "--port", help="Port to listen on."),
    token_env: str = typer.Option(
        "MKD_SERVE_TOKEN", "--token-env", help="Variable holding the token (as serving's auth)."
    ),
    no_auth: bool = typer.Option(
        False, "--no-auth", help="Serve without a token (only with --host 127.0.0.1)."
    ),
    per_task: int | None = typer.Option(None, "--per-task", help="Override the sample size."),
    disagreements: int = typer.Option(
        20, "--disagreements", help="Most student-teacher disagreements to list."
    ),
    refresh_s: float = typer.Option(
        30.0,
        "--refresh-s",
        min=0.0,
        help="Re-read the items from the store at most this often (a new evaluation or new "
        "labels appear on the index; items are only appended).",
    ),
) -> None:
    """A review web page: sampled labels, the latest evaluation's largest student-teacher
    disagreements and guard-flagged items; accept (a), correct (c) or reject (r) each. Decisions
    are stored as review overrides that the next `mkd data build` applies.

    Example: MKD_SERVE_TOKEN=secret mkd review serve -c configs/pipeline.yaml --port 8765
    """
    from mkd.review_web.server import AuthRefused, resolve_token, review_context, serve

    cfg, store = _load(config)
    try:
        token = resolve_token(token_env, host, no_auth)
    except AuthRefused as exc:
        fail(str(exc), code=2)
    ctx = review_context(cfg, store, per_task, disagreements, token_env, refresh_s)
    for problem in ctx.problems:
        console.print(f"[yellow]note[/] {problem}", highlight=False)
    console.print(
        f"{len(ctx.items)} item(s) of {cfg.data.dataset}/{cfg.data.version} at "
        f"http://{host}:{port}/ ({'no auth' if token is None else 'token from $' + token_env})"
    )
    serve(ctx, token, host, port)
