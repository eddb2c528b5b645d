"""Run stages in order; a stage whose inputs did not change since it finished is reused.

Each finished stage leaves a record (fingerprint of its inputs, its outputs, its wall time) in the
store under pipelines/<name>/state.json, written after the stage's own artifacts, so an
interrupted run resumes at the first unfinished stage.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console

from mkd.config import PipelineConfig
from mkd.storage import Store
from mkd.store_layout import pipeline_state


@dataclass
class PipelineContext:
    """What every stage sees: the config, the store, earlier stages' outputs, running services."""

    cfg: PipelineConfig
    store: Store
    console: Console
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    services: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, tuple[float, bool]] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)  # this run's start (deadlines)
    state_name: str | None = None  # pipelines/<this>/state.json; None: the config's name

    def output(self, stage: str, key: str) -> Any:
        return self.outputs[stage][key]


@dataclass(frozen=True)
class Stage:
    """One step: `run` returns the outputs later stages need (JSON-serialisable)."""

    name: str
    title: str
    run: Callable[[PipelineContext], dict[str, Any]]
    inputs: Callable[[PipelineContext], Any] = lambda ctx: None
    always: bool = False  # stages with live side effects (serving, replay) run every time


def fingerprint(stage: Stage, ctx: PipelineContext) -> str:
    """Hash of what the stage depends on: its own inputs and every earlier stage's outputs."""
    payload = {"inputs": stage.inputs(ctx), "upstream": ctx.outputs}
    blob = json.dumps(payload, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def _state_key(ctx: PipelineContext) -> str:
    return pipeline_state(ctx.state_name or ctx.cfg.name)


def load_state(ctx: PipelineContext) -> dict[str, Any]:
    key = _state_key(ctx)
    return ctx.store.get_json(key) if ctx.store.exists(key) else {}


def run_stages(stages: list[Stage], ctx: PipelineContext, fresh: bool = False) -> PipelineContext:
    """Run (or reuse) each stage in order; Ctrl-C leaves the finished stages recorded."""
    state = {} if fresh else load_state(ctx)
    for number, stage in enumerate(stages, start=1):
        fp = fingerprint(stage, ctx)
        done = state.get(stage.name)
        header = f"[bold cyan]{number}/{len(stages)} {stage.title}[/]"
        if done and done["fingerprint"] == fp and not stage.always:
            ctx.console.rule(f"{header} [green](reused from an earlier run)[/]")
            ctx.outputs[stage.name] = done["outputs"]
            ctx.timings[stage.name] = (done["seconds"], True)
            continue
        ctx.console.rule(header)
        started = time.perf_counter()
        outputs = stage.run(ctx) or {}
        seconds = time.perf_counter() - started
        ctx.outputs[stage.name] = outputs
        ctx.timings[stage.name] = (seconds, False)
        state[stage.name] = {"fingerprint": fp, "outputs": outputs, "seconds": seconds}
        ctx.store.put_json(_state_key(ctx), state)
        ctx.console.print(f"[dim]{stage.name} finished in {seconds:.1f}s[/]")
    return ctx
