"""The stage runner: finished stages are reused, changed inputs rerun, interruptions resume."""

from __future__ import annotations

import pytest
from mkd.config import load_config
from mkd.pipeline import PipelineContext, Stage, run_stages
from mkd.storage import open_store
from rich.console import Console


def make_ctx(tmp_path) -> PipelineContext:
    return PipelineContext(load_config(None), open_store(str(tmp_path)), Console(quiet=True))


def test_rerun_reuses_finished_stages_and_reruns_changed_ones(tmp_path) -> None:
    calls: list[str] = []
    knob = {"v": 1}

    def stage(name):
        def run(ctx):
            calls.append(name)
            return {"out": f"{name}-{knob['v']}" if name == "b" else name}

        return run

    stages = [
        Stage("a", "A", stage("a")),
        Stage("b", "B", stage("b"), inputs=lambda ctx: knob["v"]),
        Stage("c", "C", stage("c")),
    ]
    run_stages(stages, make_ctx(tmp_path))
    assert calls == ["a", "b", "c"]
    ctx = run_stages(stages, make_ctx(tmp_path))
    assert calls == ["a", "b", "c"]
    assert ctx.outputs["b"] == {"out": "b-1"} and all(reused for _, reused in ctx.timings.values())
    knob["v"] = 2
    run_stages(stages, make_ctx(tmp_path))
    assert calls == ["a", "b", "c", "b", "c"]  # b's input changed, so b and everything after
    run_stages(stages, make_ctx(tmp_path), fresh=True)
    assert calls[-3:] == ["a", "b", "c"]


def test_interrupted_run_resumes_at_the_unfinished_stage(tmp_path) -> None:
    calls: list[str] = []
    fail = {"now": True}

    def flaky(ctx):
        calls.append("b")
        if fail["now"]:
            raise KeyboardInterrupt
        return {}

    stages = [Stage("a", "A", lambda ctx: calls.append("a") or {}), Stage("b", "B", flaky)]
    with pytest.raises(KeyboardInterrupt):
        run_stages(stages, make_ctx(tmp_path))
    fail["now"] = False
    run_stages(stages, make_ctx(tmp_path))
    assert calls == ["a", "b", "b"]


def test_fingerprints_ignore_where_the_stages_run(tmp_path) -> None:
    """The demo's Ray cluster gets a new port on every run: a re-run must still reuse stages."""
    from mkd.pipeline.runner import fingerprint
    from mkd.pipeline.stages import build_stages

    first, second = make_ctx(tmp_path), make_ctx(tmp_path)
    for ctx, port in ((first, 6379), (second, 41234)):
        for section in (ctx.cfg.data, ctx.cfg.training, ctx.cfg.evaluation):
            section.ray_address = f"127.0.0.1:{port}"
    for stage in build_stages():
        assert fingerprint(stage, first) == fingerprint(stage, second), stage.name
    second.cfg.training.max_steps += 1
    train = next(s for s in build_stages() if s.name == "train")
    assert fingerprint(train, first) != fingerprint(train, second)
