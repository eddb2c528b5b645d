"""`mkd validate` and `mkd score`: check datasets and predictions against the task contracts."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from mkd.cli.console import console, fail, task_score_table
from mkd.config.pipeline import DEFAULT_PACK
from mkd.records import ReadReport, Record, read_numbered, read_records
from mkd.scoring import parse_prediction, score_by_task
from mkd.tasks import TaskPack, load_pack


def register(app: typer.Typer) -> None:
    app.command("validate")(validate)
    app.command("score")(score)


def validate(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="JSONL dataset."),
    pack: str = typer.Option(DEFAULT_PACK, "--pack", help="Task pack the records belong to."),
) -> None:
    """Check every line of a JSONL dataset against its task's schema; exit 1 on any problem.

    Example: mkd validate data/train.jsonl
    """
    p = load_pack(pack)
    report = ReadReport()
    problems: list[str] = []
    for line, rec in read_numbered(file, on_error="reject", report=report):
        problems += [f"{file}:{line}: {m}" for m in _record_problems(p, rec)]
    problems += [str(e) for e in report.errors]
    problems.sort(key=_line_key)
    for msg in problems:
        console.print(f"[red]✗[/] {msg}", highlight=False)
    total = report.ok + len(report.errors)
    if problems:
        fail(f"{len(problems)} problem(s) in {total} record(s)")
    console.print(f"[green]✓[/] {total} record(s) valid")


def _line_key(msg: str) -> tuple[str, int]:
    path, _, rest = msg.partition(":")
    number = rest.split(":", 1)[0]
    return path, int(number) if number.isdigit() else 0


def _record_problems(pack: TaskPack, rec: Record) -> list[str]:
    if rec.task not in pack.tasks:
        return [f"unknown task {rec.task!r} (known: {', '.join(pack.tasks)})"]
    _, violation = parse_prediction(pack.tasks[rec.task], rec.output)
    return [f"task {rec.task}: output {violation}"] if violation else []


def score(
    truth: Path = typer.Option(
        ..., "--truth", exists=True, help="JSONL with the reference labels."
    ),
    pred: Path = typer.Option(..., "--pred", exists=True, help="JSONL with the predictions."),
    pack: str = typer.Option(DEFAULT_PACK, "--pack", help="Task pack."),
    as_json: bool = typer.Option(False, "--json", help="Print the scores as JSON."),
) -> None:
    """Score predictions against truth per task (score, precision/F1, violation rate).

    Lines pair by position; both files must hold the same tasks in the same order.
    Example: mkd score --truth test.jsonl --pred student.jsonl --json
    """
    p = load_pack(pack)
    truths, preds = list(read_records(truth)), list(read_records(pred))
    if len(truths) != len(preds):
        fail(f"{truth} has {len(truths)} records but {pred} has {len(preds)}")
    pairs = []
    for n, (t, q) in enumerate(zip(truths, preds, strict=True), start=1):
        if t.task != q.task:
            fail(f"record {n}: task {t.task!r} in --truth but {q.task!r} in --pred")
        if t.task not in p.tasks:
            fail(f"record {n}: unknown task {t.task!r}")
        pairs.append((t.task, t.output, q.output))
    scores = score_by_task(p.tasks, pairs)
    if as_json:
        typer.echo(json.dumps({k: v.as_dict() for k, v in scores.items()}, indent=2))
        return
    console.print(task_score_table(scores, "scores"))
