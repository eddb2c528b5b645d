"""Entry point of the `mkd` console script: registers every command group."""

from __future__ import annotations

import typer

from mkd import __version__
from mkd.cli import quality_cmds, tasks_cmds
from mkd.cli import data_cmds, teacher_cmds
from mkd.cli import guards_cmds
from mkd.cli import submit_cmds
from mkd.cli import train_cmds
from mkd.cli import serve_cmds
from mkd.cli import eval_cmds, models_cmds
from mkd.cli import pipeline_cmds

app = typer.Typer(
    name="mkd",
    help="MKD: distill a large teacher LLM into one small multi-task student.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mkd {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """MKD: distill a large teacher LLM into one small multi-task student.

    Example: mkd tasks list
    """


app.add_typer(tasks_cmds.app, name="tasks")
app.add_typer(teacher_cmds.app, name="teacher")
data_cmds.register(app)
app.add_typer(guards_cmds.app, name="guards")
quality_cmds.register(app)
submit_cmds.register(app)
train_cmds.register(app)
serve_cmds.register(app)
eval_cmds.register(app)
models_cmds.register(app)
pipeline_cmds.register(app)
