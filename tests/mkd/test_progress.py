"""LoggedProgress: a plain line per interval off a terminal, the usual live bar on one."""

from __future__ import annotations

import io

from mkd.progress import LoggedProgress
from rich.console import Console
from rich.progress import MofNCompleteColumn, TextColumn


def _bar(console: Console, interval: float) -> LoggedProgress:
    columns = (TextColumn("labeling"), MofNCompleteColumn())
    return LoggedProgress(*columns, console=console, log_interval_s=interval)


def test_off_a_terminal_it_logs_lines_while_running_and_a_last_one_at_the_end():
    out = io.StringIO()
    with _bar(Console(file=out, force_terminal=False, width=80), interval=0.0) as bar:
        task = bar.add_task("x", total=3)
        for _ in range(3):
            bar.advance(task)
    lines = [line for line in out.getvalue().splitlines() if line.strip()]
    assert lines[0].split() == ["labeling", "1/3"]
    assert lines[-1].split() == ["labeling", "3/3"]
    assert len(lines) == 3  # one per advance; the closing line would repeat the last


def test_the_interval_throttles_the_lines():
    out = io.StringIO()
    with _bar(Console(file=out, force_terminal=False), interval=3600.0) as bar:
        task = bar.add_task("x", total=100)
        for _ in range(100):
            bar.update(task, advance=1)
    assert [line.split() for line in out.getvalue().splitlines() if line.strip()] == [
        ["labeling", "1/100"],
        ["labeling", "100/100"],
    ]


def test_on_a_terminal_it_is_a_live_bar():
    console = Console(file=io.StringIO(), force_terminal=True)
    bar = _bar(console, interval=0.0)
    assert not bar.disable
