"""Shared console and error exit for every command."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, NoReturn

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from mkd.scoring import TaskScore

console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print an error to stderr and exit with `code`.

    Not wrapped to the terminal's width: an error names a file, line or field, and a line break
    inside `q.jsonl:2: unknown task` would hide it from grep and from tests.
    """
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def task_score_table(scores: Mapping[str, TaskScore], title: str) -> Table:
    """Per-task score, precision, F1 and schema-violation rate (mkd score, gold reports)."""
    table = Table(title=title)
    for col in ("task", "n", "score", "precision", "F1", "schema violations"):
        table.add_column(col, justify="left" if col == "task" else "right")

    def fmt(v: float | None) -> str:
        return "-" if v is None else f"{v:.3f}"

    for s in scores.values():
        table.add_row(
            s.task,
            str(s.count),
            fmt(s.score),
            fmt(s.precision),
            fmt(s.f1),
            f"{s.violation_rate:.1%}",
        )
    return table
