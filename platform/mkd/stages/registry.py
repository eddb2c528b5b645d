"""The stages by name: each is a module of mkd.stages with `run(config, context) -> Outcome`."""

from __future__ import annotations

import importlib
from types import ModuleType

# In pipeline order; `pipeline` runs the build stages in order, `loop` one improvement turn.
STAGES = (
    "augment",
    "label",
    "dataset",
    "build",
    "train",
    "evaluate",
    "export",
    "predict",
    "pipeline",
    "loop",
)
# What people type (`eval`) and the names ray_jobs used (`build_data`).
ALIASES = {"eval": "evaluate", "build_data": "build"}


def canonical(name: str) -> str:
    """The stage's own name (`eval` -> `evaluate`).

    Raises:
        ValueError: no such stage; the message lists the stages and aliases that exist.
    """
    stage = ALIASES.get(name, name)
    if stage not in STAGES:
        accepted = ", ".join([*STAGES, *ALIASES])
        raise ValueError(f"unknown stage {name!r}; stages: {accepted}")
    return stage


def stage_module(name: str) -> ModuleType:
    """The module of stage `name` (an alias is accepted); ValueError if there is none."""
    return importlib.import_module(f"mkd.stages.{canonical(name)}")
