"""Where the loop reports: Ray Train (jobs) or a local directory (tests, benchmarks)."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from mkd.training.checkpoints import STATE_FILE

PROGRESS_ACTOR_PREFIX = "mkd-train-progress-"


class LocalSession:
    """One process, checkpoints copied to `root/checkpoints/step_N` (the latest one resumes)."""

    rank, world_size = 0, 1

    def __init__(self, root: str | Path, on_progress: Callable[[dict], None] | None = None):
        self.root = Path(root)
        self.on_progress = on_progress
        self.reports: list[dict[str, Any]] = []

    def _checkpoints(self) -> list[Path]:
        found = (self.root / "checkpoints").glob(f"step_*/{STATE_FILE}")
        return sorted((p.parent for p in found), key=lambda p: int(p.name.split("_")[1]))

    @contextlib.contextmanager
    def latest_checkpoint(self) -> Iterator[str | None]:
        found = self._checkpoints()
        yield str(found[-1]) if found else None

    def report(self, metrics: dict[str, Any], checkpoint_dir: str | None) -> None:
        self.reports.append(metrics)
        if checkpoint_dir:
            dest = self.root / "checkpoints" / f"step_{metrics['step']}"
            shutil.rmtree(dest, ignore_errors=True)
            shutil.copytree(checkpoint_dir, dest)

    def progress(self, metrics: dict[str, Any]) -> None:
        if self.on_progress:
            self.on_progress(metrics)


class RaySession:
    """Inside a Ray Train worker: ray.train.report / get_checkpoint, progress to a named actor."""

    def __init__(self, run_id: str) -> None:
        import ray
        import ray.train

        ctx = ray.train.get_context()
        self.rank, self.world_size = ctx.get_world_rank(), ctx.get_world_size()
        self._progress = None
        if self.rank == 0:
            with contextlib.suppress(ValueError):  # no driver listening: run without a bar
                self._progress = ray.get_actor(PROGRESS_ACTOR_PREFIX + run_id)
            pidfile = os.environ.get("MKD_TRAIN_PIDFILE")
            if pidfile:  # lets the fault-injection test kill exactly this worker process
                Path(pidfile).write_text(str(os.getpid()))

    @contextlib.contextmanager
    def latest_checkpoint(self) -> Iterator[str | None]:
        import ray.train

        checkpoint = ray.train.get_checkpoint()
        if checkpoint is None:
            yield None
            return
        with checkpoint.as_directory() as directory:
            yield directory

    def report(self, metrics: dict[str, Any], checkpoint_dir: str | None) -> None:
        import ray.train

        checkpoint = ray.train.Checkpoint.from_directory(checkpoint_dir) if checkpoint_dir else None
        ray.train.report(metrics, checkpoint=checkpoint)

    def progress(self, metrics: dict[str, Any]) -> None:
        if self._progress is not None:
            self._progress.update.remote(metrics)


def train_worker(config: dict[str, Any]) -> None:
    """The TorchTrainer's train_loop_per_worker: the plain loop with a Ray session."""
    from mkd.training.loop import LoopInputs, run_loop

    run_id = config.pop("run_id")
    run_loop(LoopInputs(**config), RaySession(run_id))
