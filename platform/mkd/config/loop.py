"""The `loop` section: `mkd loop` makes dataset v(N+1) from v(N) and the feedback log, warm-starts
training from the current adapter, compares both versions and deploys the candidate in shadow."""

from __future__ import annotations

from pydantic import Field

from mkd.config.base import Section


class LoopConfig(Section):
    """One turn of the improvement loop (docs/loop.md)."""

    enabled: bool = Field(
        False,
        description="The pipeline RayJob (ray_jobs.pipeline, `mkd submit pipeline`, the chart's "
        "CronJob) runs the loop instead of the build stages.",
    )
    parent: str | None = Field(
        None,
        description="v(N), the dataset version to grow. None: the finished version of "
        "data.dataset with the highest number (mkd.store_layout: v10 after v9).",
    )
    version: str | None = Field(
        None,
        description="Name of v(N+1). None: the parent's number plus one (v10 after v9).",
    )
    current: str | None = Field(
        None,
        description="The version serving now (registry NAME:VERSION or NAME@STAGE): warm start "
        "and the comparison's v(N). None: <register name>@production, else the newest version.",
    )
    warm_start: bool = Field(
        True,
        description="Train from the current version's adapter (training.init_adapter) unless "
        "training.init_adapter is already set.",
    )
    new_test_fraction: float = Field(
        0.2,
        gt=0,
        lt=1,
        description="Share of the new query families held out in test_new.jsonl; the rest is "
        "split into train/val by data.splits' train:val ratio.",
    )
    min_new_items: int = Field(
        1,
        ge=0,
        description="Fewer new records than this (feedback and imports, after skips) and the "
        "loop stops before building a version: nothing to learn from yet (0: always build).",
    )
    serve_dashboard: str | None = Field(
        None,
        description="Ray dashboard URL of the running Serve app (http://HEAD:8265): the "
        "candidate is deployed there in shadow. None: the deploy step prints how to do it.",
    )
    serve_app: str = Field("mkd", description="Serve application name in that cluster.")
    deploy_timeout_s: float = Field(
        900, gt=0, description="Seconds to wait for the shadow deployment to reach RUNNING."
    )
