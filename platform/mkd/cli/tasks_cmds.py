"""`mkd tasks`: what the task packs hold."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from mkd.cli.console import console, fail
from mkd.config.pipeline import DEFAULT_PACK
from mkd.tasks import load_pack

app = typer.Typer(help="Inspect task packs and their tasks.", no_args_is_help=True)

PACK = typer.Option(DEFAULT_PACK, "--pack", help="Pack name or a directory with pack.yaml.")


@app.command("list")
def list_tasks(pack: str = PACK) -> None:
    """List the tasks of a pack.

    Example: mkd tasks list --pack finance
    """
    p = _pack(pack)
    table = Table(title=f"pack {p.name} v{p.version}")
    for col in ("task", "scorer", "max tokens", "prompt version"):
        table.add_column(col)
    for t in p.tasks.values():
        table.add_row(t.name, t.scorer, str(t.max_output_tokens), t.prompt_version)
    console.print(table)


@app.command("show")
def show_task(name: str = typer.Argument(..., help="Task name."), pack: str = PACK) -> None:
    """Show a task's instruction, output schema and scorer.

    Example: mkd tasks show currency_identifier
    """
    p = _pack(pack)
    try:
        t = p.task(name)
    except KeyError as exc:
        fail(str(exc.args[0]))
    console.print(f"[bold]{t.name}[/] (scorer: {t.scorer}, prompt {t.prompt_version})")
    console.print(t.instruction, highlight=False)
    console.print_json(json.dumps(t.output_schema))


def _pack(name: str):
    try:
        return load_pack(name)
    except FileNotFoundError as exc:
        fail(str(exc))
