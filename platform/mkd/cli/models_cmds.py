"""`mkd models list|show|promote|rollback`: the registry from the command line (`mkd export` is a
stage command: mkd.cli.stage_cmds)."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from mkd.cli.console import console, fail
from mkd.cli.refs import model_ref_option
from mkd.config import ConfigError, PipelineConfig, load_config
from mkd.registry import REF_FORMS, STAGES, Registry, RegistryError
from mkd.storage import open_store

CONFIG = typer.Option(None, "--config", "-c", help="Pipeline YAML (default: embedded defaults).")

app = typer.Typer(
    help="Model registry: versions, stages, promotions, rollbacks.", no_args_is_help=True
)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="models")


def load(config: Path | None) -> PipelineConfig:
    try:
        return load_config(config)
    except (ConfigError, OSError) as exc:
        fail(str(exc), code=2)


def _registry(config: Path | None) -> Registry:
    return Registry(open_store(load(config).store))


@app.command("list")
def list_cmd(
    name: str | None = typer.Argument(None, help="Model name (default: every model)."),
    config: Path | None = CONFIG,
) -> None:
    """List versions with variant, stage, gates, mean agreement and size.

    Example: mkd models list finance-student
    """
    registry = _registry(config)
    names = [name] if name else registry.names()
    table = Table(title=f"models in {registry.store.uri}")
    table.add_column("version", no_wrap=True)
    for col in ("variant", "stage", "gates", "agreement", "size", "run", "created"):
        table.add_column(col)
    for n in names:
        for mv in registry.list(n):
            m = mv.manifest
            tasks = (m.get("eval") or {}).get("tasks") or {}
            agree = sum(t["agreement"] for t in tasks.values()) / len(tasks) if tasks else None
            gates = {True: "[green]passed[/]", False: "[red]failed[/]"}.get(mv.gates_passed, "-")
            table.add_row(
                mv.ref, m.get("variant", "-"),
                mv.stage + (" [red](rolled back)[/]" if mv.rolled_back else ""), gates,
                "-" if agree is None else f"{agree:.3f}", _size(m.get("size_bytes")),
                str(m.get("training_run", "-")), m.get("created_at", "-"),
            )  # fmt: skip
    console.print(table)


@app.command("show")
def show_cmd(
    ref: str = typer.Argument(..., help=REF_FORMS, callback=model_ref_option),
    config: Path | None = CONFIG,
) -> None:
    """Show a version's manifest (lineage, eval, gates) and its stage history.

    Example: mkd models show finance-student@production
    """
    registry = _registry(config)
    try:
        mv = registry.resolve(ref)
    except RegistryError as exc:
        fail(str(exc))
    console.print(f"[bold]{mv.ref}[/] stage [bold]{mv.stage}[/]")
    if mv.rolled_back:
        mark = mv.rolled_back
        console.print(
            f"[red]rolled_back[/] at {mark.get('at')} by {mark.get('by')}: {mark.get('reason')}",
            highlight=False,
        )
    console.print_json(json.dumps(mv.manifest, default=str))
    for e in registry.history(mv.name):
        if e["version"] == mv.version or e.get("displaced") == mv.version:
            console.print(
                f"  {e['at']} {e['action']} v{e['version']} {e['from']} → {e['to']} by {e['by']}: {e['reason']}",
                highlight=False,
            )


@app.command("promote")
def promote_cmd(
    ref: str = typer.Argument(..., help=REF_FORMS, callback=model_ref_option),
    stage: str = typer.Argument(..., help=f"One of {', '.join(STAGES)}."),
    reason: str = typer.Option("", "--reason", help="Why (recorded in the log)."),
    force: bool = typer.Option(
        False,
        "--force",
        help="Promote a version whose gates did not pass (failed or never evaluated; needs --reason).",
    ),
    config: Path | None = CONFIG,
) -> None:
    """Move a version to a stage; canary and production hold one version each (the previous one
    is archived). A version whose gates did not pass (failed, or no gate results) is refused for
    candidate, canary and production, naming the failed gates, unless --force --reason is given.

    Example: mkd models promote finance-student:3 production --reason "canary clean for 24h"
    """
    try:
        event = _registry(config).promote(ref, stage, reason=reason, force=force)
    except RegistryError as exc:
        fail(str(exc))
    moved = f" ({event['model']}:{event['displaced']} archived)" if event.get("displaced") else ""
    console.print(
        f"[green]✓[/] {event['model']}:{event['version']} {event['from']} → {event['to']}{moved}"
    )


@app.command("rollback")
def rollback_cmd(
    name: str = typer.Argument(..., help="Model name."),
    stage: str = typer.Option("production", "--stage", help="canary or production."),
    reason: str = typer.Option("", "--reason", help="Why (recorded in the log)."),
    config: Path | None = CONFIG,
) -> None:
    """Put back the version that held the stage before the current one (the current is archived).

    Example: mkd models rollback finance-student --reason "agreement fell to 0.81"
    """
    try:
        event = _registry(config).rollback(name, stage, reason=reason)
    except RegistryError as exc:
        fail(str(exc))
    console.print(
        f"[green]✓[/] {name}:{event['version']} back in {stage}; {name}:{event['rolled_back']} archived"
    )


def _size(n: int | None) -> str:
    from mkd.evaluation.report import human_bytes

    return human_bytes(n)
