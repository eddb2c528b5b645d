"""Progress bars that also show up in logs: a rich bar on a terminal, a line every N s elsewhere.

rich draws nothing on a console that is not a terminal (CI logs, `mkd demo > log`, a Ray job's
streamed output) until the bar stops, so a 20-minute training run would look hung. Off a
terminal, `LoggedProgress` prints the same columns as one plain line at a fixed interval instead.
"""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)

LOG_INTERVAL_S = 30.0


class LoggedProgress(Progress):
    """A rich Progress that, when its console is not a terminal, logs a line per interval."""

    def __init__(
        self,
        *columns: str | ProgressColumn,
        console: Console | None = None,
        log_interval_s: float = LOG_INTERVAL_S,
        **kwargs: Any,
    ) -> None:
        # rich estimates speed over the last 30 s by default; a step that reports every 30 s
        # (training) would then never show an ETA.
        kwargs.setdefault("speed_estimate_period", 600.0)
        super().__init__(*columns, console=console, **kwargs)
        self._as_lines = not self.console.is_terminal
        self._log_interval_s = log_interval_s
        self._last_line = 0.0
        self._last_logged: tuple[float, ...] = ()
        if self._as_lines:
            self.disable = True  # no live display: it would only print once, at the end

    def update(self, task_id: TaskID, **kwargs: Any) -> None:  # type: ignore[override]
        super().update(task_id, **kwargs)
        self._maybe_log()

    def advance(self, task_id: TaskID, advance: float = 1) -> None:
        super().advance(task_id, advance)
        self._maybe_log()

    def stop(self) -> None:
        super().stop()
        if self._as_lines and self.tasks and self._done() != self._last_logged:
            self._log_line()

    def _maybe_log(self) -> None:
        if self._as_lines and time.monotonic() - self._last_line >= self._log_interval_s:
            self._log_line()

    def _done(self) -> tuple[float, ...]:
        return tuple(task.completed for task in self.tasks)

    def _log_line(self) -> None:
        self._last_line = time.monotonic()
        self._last_logged = self._done()
        self.console.print(self.make_tasks_table(self.tasks), soft_wrap=True)


def item_progress(console: Console | None = None) -> LoggedProgress:
    """Description, bar, done/total and ETA: for work counted in items (predictions, variants)."""
    return LoggedProgress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeRemainingColumn(), console=console, transient=True,
    )  # fmt: skip
