"""Evaluation results as rich tables: the report of `mkd eval` and the evaluate stage, per-task
scores of `mkd score` and the reference teacher's gold check. Shared by the CLI and ray_jobs, so
it lives outside mkd.cli (nothing but the CLI imports the CLI)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from mkd.scoring import TaskScore


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


def print_report(report: dict[str, Any], console: Console | None = None) -> None:
    """The per-task table, the gates and the before/after table (`mkd eval`, the evaluate stage)."""
    console = console or Console()
    from mkd.evaluation.report import DETAIL_HEADER, ROLE_TITLES, detail_rows, score_table

    header, rows = score_table(report)
    console.print(_table(f"score per task ({report['dataset']} {report['split']})", header, rows))
    student = report["models"].get("student")
    if student:
        console.print(_table("student per task", DETAIL_HEADER, detail_rows(student)))
    if report.get("gates"):
        for g in report["gates"]["results"]:
            mark = "[green]pass[/]" if g["passed"] else "[bold red]FAIL[/]"
            op = "<=" if g["check"] == "violation_rate" else ">="
            console.print(
                f"  {mark} {g['task']}: {g['check']} {g['value']:.3f} {op} {g['threshold']:.3f}"
            )
    ba = report.get("before_after") or []
    if ba:
        head = [ROLE_TITLES.get(h, h) for h in ba[0]]
        console.print(_table("before / after", head, [list(r.values()) for r in ba]))


def _table(title: str, header: list[str], rows: list[list[str]]) -> Table:
    table = Table(title=title)
    for i, col in enumerate(header):
        table.add_column(col, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*row)
    return table
