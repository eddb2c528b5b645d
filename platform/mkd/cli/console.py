"""Shared console and error exit for every command."""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console

from mkd.tables import task_score_table

__all__ = ["console", "err_console", "fail", "task_score_table"]

console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print an error to stderr and exit with `code`.

    Not wrapped to the terminal's width: an error names a file, line or field, and a line break
    inside `q.jsonl:2: unknown task` would hide it from grep and from tests.
    """
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)
