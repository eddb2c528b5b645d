"""The feedback log: every teacher answer the Router obtains (shadow, mirror, fallback), kept.

Each one is a free, fresh label on exactly the traffic the student faces, and its score against
the student shows where the student is weak; the next dataset version takes them in
(`feedback/` in the store). The Router only appends to an in-memory buffer on the request
path; a background task writes batches as new objects (append-only, size-capped), off the event
loop in a thread. The query is the guarded one (PII redacted before any model saw it) and
answers passed the output guards, so nothing here is raw user text.

The store layout and the reader are mkd.feedback (dataset builds read it; mkd never imports serving).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import random
import uuid
from collections import deque
from typing import Any

from mkd.serve.config import CaptureArgs
from mkd.storage import Store
from mkd.store_layout import feedback_day, feedback_key, feedback_prefix

log = logging.getLogger("mkd.serving.capture")


class FeedbackWriter:
    """Buffers feedback entries and writes them to the store in batches.

    Args:
        store: where batches go.
        cfg: the app's `capture` section (sampling, batch size and bytes, flush interval).
        pack: the task pack's name (the first folder under feedback/).
        on_drop: called with the number of entries dropped because the buffer was full.
    """

    def __init__(self, store: Store, cfg: CaptureArgs, pack: str, on_drop: Any = None) -> None:
        self.store, self.cfg, self.pack = store, cfg, pack
        self.writer_id = uuid.uuid4().hex[:8]
        self.pending: deque[dict] = deque()
        self.rng = random.Random()
        self.seq = 0
        self.dropped = 0
        self.written = 0
        self.on_drop = on_drop
        self._task: asyncio.Task | None = None
        self._last_prune: dt.date | None = None

    def add(self, entry: dict) -> bool:
        """Queue one entry (sampled); False when it was sampled out or the buffer was full."""
        if self.cfg.sample_rate < 1.0 and self.rng.random() >= self.cfg.sample_rate:
            return False
        if len(self.pending) >= self.cfg.max_pending:
            self.dropped += 1
            if self.on_drop is not None:
                self.on_drop(1)
            return False
        self.pending.append(entry)
        self._ensure_task()
        return True

    def _ensure_task(self) -> None:
        if self._task is not None and not self._task.done():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop (a synchronous caller): flush() writes later
            return
        self._task = loop.create_task(self._run())

    async def _run(self) -> None:
        while self.pending:
            await asyncio.sleep(self.cfg.flush_interval_s)
            await asyncio.to_thread(self.flush)

    def _batch(self) -> list[bytes]:
        lines: list[bytes] = []
        size = 0
        while self.pending and len(lines) < self.cfg.max_entries_per_object:
            line = (json.dumps(self.pending[0], ensure_ascii=False) + "\n").encode("utf-8")
            if lines and size + len(line) > self.cfg.max_object_bytes:
                break
            lines.append(line)
            size += len(line)
            self.pending.popleft()
        return lines

    def flush(self) -> list[str]:
        """Write everything pending as one or more objects; returns their keys."""
        keys = []
        while self.pending:
            lines = self._batch()
            now = dt.datetime.now(dt.UTC)
            key = feedback_key(self.pack, now, self.writer_id, self.seq)
            self.seq += 1
            try:
                self.store.put_bytes(key, b"".join(lines))
            except Exception:  # the store is down: keep the batch for the next flush
                log.exception("feedback: writing %s failed; %d entries kept", key, len(lines))
                self.pending.extendleft(json.loads(x) for x in reversed(lines))
                break
            self.written += len(lines)
            keys.append(key)
        self.prune()
        return keys

    def prune(self) -> list[str]:
        """Delete day folders older than retention_days (at most once a day per writer)."""
        today = dt.datetime.now(dt.UTC).date()
        if self.cfg.retention_days <= 0 or self._last_prune == today:
            return []
        self._last_prune = today
        cutoff = today - dt.timedelta(days=self.cfg.retention_days)
        old = [
            k
            for k in self.store.list(feedback_prefix(self.pack))
            if (day := feedback_day(k)) is not None and day < cutoff
        ]
        for key in old:
            self.store.delete(key)
        return old


def feedback_entry(
    *,
    task: str,
    source: str,
    query: str,
    context: dict | None,
    teacher: dict,
    student: dict | None,
    score: float | None,
    request_id: str | None,
) -> dict[str, Any]:
    """One line of the feedback log (teacher/student: {output, version} as the models answer)."""
    return {
        "ts": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
        "task": task,
        "source": source,
        "input": query,
        "context": context or {},
        "teacher_output": teacher.get("output"),
        "teacher_version": teacher.get("version"),
        "student_output": None if student is None else student.get("output"),
        "student_version": None if student is None else student.get("version"),
        "score": score,
        "request_id": request_id,
    }
