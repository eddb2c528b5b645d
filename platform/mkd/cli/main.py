"""Entry point of the `mkd` console script: registers every command group."""

from __future__ import annotations

import os
import sys
import warnings

import typer

from mkd import __version__
from mkd.cli import (
    data_cmds,
    guards_cmds,
    models_cmds,
    pipeline_cmds,
    quality_cmds,
    serve_cmds,
    stage_cmds,
    submit_cmds,
    tasks_cmds,
    teacher_cmds,
)

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
    _quiet_libraries(interactive=sys.stderr.isatty())


def _quiet_libraries(interactive: bool) -> None:
    """Off a terminal, library tqdm bars (GGUF de-quantizing, weight loading) write one line per
    refresh into logs; MKD's own progress lines say what they would. Child processes (Ray
    workers, the teacher server) inherit the setting."""
    if not interactive:
        os.environ.setdefault("TQDM_DISABLE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    # peft calls a transformers method that transformers deprecated: noise for MKD's users.
    warnings.filterwarnings(
        "ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning
    )


app.add_typer(tasks_cmds.app, name="tasks")
app.add_typer(teacher_cmds.app, name="teacher")
data_cmds.register(app)
app.add_typer(guards_cmds.app, name="guards")
quality_cmds.register(app)
submit_cmds.register(app)
serve_cmds.register(app)
models_cmds.register(app)
pipeline_cmds.register(app)
stage_cmds.register(app, {"data": data_cmds.data_app})
