"""Labeling on Ray Data: actors with fractional CPUs, a driver-side progress bar, a budget stop.

On 2 CPUs, two 1-CPU actors plus a read task deadlock Ray Data; actors take
`data.actor_num_cpus` (0.5 by default) so there is always room for the read and the driver.
"""

from __future__ import annotations

import json
import time
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from mkd.config.pipeline import PipelineConfig
from mkd.data.labeling import LABELED, QUARANTINED, LabelReport, LabelWorker, make_items
from mkd.progress import LoggedProgress
from mkd.services.ray_local import ray_session
from mkd.tasks import load_pack

__all__ = ["ray_session", "run_labeling"]  # ray_session: shared home is mkd.services


def _progress(console: Console | None) -> LoggedProgress:
    return LoggedProgress(
        TextColumn("[bold]labeling"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rate]:.1f} items/s"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[tokens]:,} tok  ${task.fields[cost]:.4f}"),
        console=console,
        transient=False,
    )


def run_labeling(
    cfg: PipelineConfig,
    prompts: list[dict],
    console: Console | None = None,
) -> tuple[list[dict], LabelReport]:
    """Label every (prompt, task) item on Ray Data; rows come back sorted by item id.

    Returns:
        (rows, report): one row per item with its status, output or reason; the report counts.
    """
    import ray

    pack = load_pack(cfg.pack)
    items = make_items(prompts, cfg.tasks, pack)
    report = LabelReport()
    rows: dict[str, dict] = {}
    started = time.monotonic()
    with ray_session(cfg.data.ray_address), _progress(console) as progress:
        ray.data.DataContext.get_current().enable_progress_bars = False  # ours is the bar
        bar = progress.add_task("label", total=len(items), rate=0.0, tokens=0, cost=0.0)
        ds = ray.data.from_items(items, override_num_blocks=max(1, len(items) // 256))
        ds = ds.map_batches(
            LabelWorker,
            fn_constructor_kwargs={"config": cfg.model_dump(mode="json")},
            batch_size=cfg.data.batch_size,
            batch_format="pandas",
            concurrency=cfg.data.actors,
            num_cpus=cfg.data.actor_num_cpus,
            num_gpus=cfg.data.actor_num_gpus or None,
        )
        for batch in ds.iter_batches(batch_size=None, batch_format="pandas"):
            for row in batch.to_dict("records"):
                if row["id"] in rows:  # at-least-once delivery on a retried task: keep one
                    continue
                rows[row["id"]] = row
                report.add(row)
            elapsed = time.monotonic() - started
            progress.update(
                bar,
                completed=len(rows),
                rate=len(rows) / max(elapsed, 1e-6),
                tokens=report.prompt_tokens + report.completion_tokens,
                cost=report.cost_usd,
            )
            budget = cfg.teacher.budget_usd
            if budget is not None and report.cost_usd >= budget:
                report.budget_exhausted = True
                break
    report.budget_exhausted = report.budget_exhausted or report.unlabeled > 0
    report.elapsed_s = round(time.monotonic() - started, 2)
    return [rows[k] for k in sorted(rows)], report


def to_record(row: dict, teacher_id: str, pack_versions: dict[str, str]) -> dict[str, Any]:
    """A labeled row as a dataset record (the spec's fields plus lineage), deterministic."""
    return {
        "id": row["id"],
        "prompt_id": row["prompt_id"],
        "family": row["family"],
        "source": row["source"],
        "input": row["input"],
        "task": row["task"],
        "output": row["output"],
        "context": json.loads(row["context_json"]),
        "teacher": teacher_id,
        "prompt_version": pack_versions.get(row["task"], ""),
    }


def to_quarantine(row: dict) -> dict[str, Any]:
    """A quarantined row: the item, why, and the teacher's raw answer (long inputs truncated)."""
    text = row["input"]
    shown = text if len(text) <= 2000 else text[:2000] + f"... [{len(text)} characters]"
    return {
        "id": row["id"],
        "task": row["task"],
        "input": shown,
        "reason": row["reason"],
        "raw": row["raw"],
    }


def split_rows(rows: list[dict]) -> tuple[list[dict], list[dict], list[dict]]:
    """(labeled, quarantined, unlabeled) rows."""
    labeled = [r for r in rows if r["status"] == LABELED]
    quarantined = [r for r in rows if r["status"] == QUARANTINED]
    unlabeled = [r for r in rows if r["status"] not in (LABELED, QUARANTINED)]
    return labeled, quarantined, unlabeled
