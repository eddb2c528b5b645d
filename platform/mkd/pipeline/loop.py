"""`mkd loop`: one turn of the improvement loop, on the pipeline's runner and stages.

plan      v(N) (the newest dataset, or loop.parent), v(N+1)'s name, the current model version
dataset   v(N+1) from v(N) + the feedback log + the version's imports and reviews
          (mkd.data.next_version: the fixed benchmark carried byte for byte, new items apart)
train     the pipeline's train stage on v(N+1), warm-started from the current adapter
          (training.init_adapter)
evaluate  the pipeline's evaluate stage: gates on the benchmark, registered as candidate or
          rejected by them (promotion still needs the gates: `mkd models promote`)
compare   current vs candidate on the benchmark (test.jsonl) and the new items (test_new.jsonl),
          same items and settings for both: loops/<name>/<dataset version>/report.{json,md,png}
deploy    the candidate in shadow behind the running app (loop.serve_dashboard), else how to

Stages are fingerprinted and recorded like the pipeline's (pipelines/<name>-loop/state.json): an
interrupted turn resumes at its first unfinished stage; a finished turn makes the next run a new
turn (v(N+2) from v(N+1)).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.console import Console

from mkd.config import PipelineConfig
from mkd.pipeline.runner import PipelineContext, Stage, load_state, run_stages
from mkd.storage import Store

SETS = {"benchmark": "test", "new": "test_new"}


def loop_name(cfg: PipelineConfig) -> str:
    """The runner's state name of the loop: its own, beside the pipeline's."""
    return f"{cfg.name}-loop"


def model_name(cfg: PipelineConfig) -> str:
    return cfg.evaluation.register_as or f"{cfg.name}-student"


def current_version(cfg: PipelineConfig, store: Store) -> str | None:
    """The version the candidate is measured against (and warm-starts from), pinned as
    NAME:VERSION: loop.current, else NAME@production, else the newest version; None when the
    registry holds none (the first turn trains from scratch and compares with nothing)."""
    from mkd.registry import Registry, RegistryError

    registry = Registry(store)
    if cfg.loop.current:
        return registry.resolve(cfg.loop.current).ref
    name = model_name(cfg)
    for ref in (f"{name}@production", name):
        try:
            return registry.resolve(ref).ref
        except RegistryError:
            continue
    return None


def planned_config(cfg: PipelineConfig, plan: dict[str, Any]) -> PipelineConfig:
    """The config the later stages run with: v(N+1) as the dataset, the warm start set."""
    out = cfg.model_copy(deep=True)
    out.data.version, out.data.parent = plan["version"], plan["parent_ref"]
    out.training.dataset = plan["dataset"]
    if cfg.loop.warm_start and plan.get("current") and not cfg.training.init_adapter:
        out.training.init_adapter = plan["current"]
    out.evaluation.dataset = plan["dataset"]
    out.evaluation.split = "test"
    return out


def _planned(fn: Callable[[PipelineContext], dict[str, Any]]) -> Callable:
    """Run a pipeline stage with the planned config (the fingerprints keep the given one, so a
    resumed turn computes the same ones)."""

    def run(ctx: PipelineContext) -> dict[str, Any]:
        given = ctx.cfg
        ctx.cfg = planned_config(given, ctx.outputs["plan"])
        try:
            return fn(ctx)
        finally:
            ctx.cfg = given

    return run


def plan(ctx: PipelineContext) -> dict[str, Any]:
    from mkd.data.next_version import resolve_versions

    parent, version = resolve_versions(ctx.cfg, ctx.store)
    current = current_version(ctx.cfg, ctx.store)
    name = ctx.cfg.data.dataset
    ctx.console.print(
        f"loop: {name}/{parent} -> {name}/{version}; current model {current or 'none'}"
        + (" (warm start)" if current and ctx.cfg.loop.warm_start else "")
    )
    return {
        "parent": parent,
        "parent_ref": f"{name}/{parent}",
        "version": version,
        "dataset": f"{name}/{version}",
        "current": current,
    }


def dataset(ctx: PipelineContext) -> dict[str, Any]:
    from mkd.data.next_version import build_next_version
    from mkd.store_layout import dataset_manifest

    p = ctx.outputs["plan"]
    key = dataset_manifest(ctx.cfg.data.dataset, p["version"])
    if ctx.store.exists(key):  # finished by an interrupted turn: reuse it
        manifest = ctx.store.get_json(key)
        if manifest.get("parent") != p["parent_ref"]:
            raise RuntimeError(
                f"dataset {p['dataset']} exists with parent {manifest.get('parent')}, not "
                f"{p['parent_ref']}: set loop.version to a new name"
            )
    else:
        manifest = build_next_version(ctx.cfg, ctx.store, p["parent"], p["version"], ctx.console)
    return {
        "dataset": p["dataset"],
        "counts": manifest["counts"],
        "benchmark_sha256": manifest["benchmark"]["sha256"],
        "new_items": manifest["new_items"]["records"],
        "feedback": manifest.get("feedback"),
    }


def _eval_on(cfg: PipelineConfig, ref: str, split: str) -> dict[str, Any]:
    """One model on one set of the new dataset, unregistered, with the comparison's settings."""
    from mkd.evaluation.job import run_evaluation

    c = cfg.model_copy(deep=True)
    c.evaluation.candidate, c.evaluation.split = ref, split
    c.evaluation.compare_base = False
    c.evaluation.compare_teacher = False  # both versions against the dataset's teacher labels
    c.evaluation.latency_probe_items = 0
    outcome = run_evaluation(c, register=False)
    student = outcome.report["models"]["student"]
    return {"report": outcome.report_uri, "items": outcome.report["items"],
            "tasks": student["tasks"], "overall": student["overall"]}  # fmt: skip


def compare(ctx: PipelineContext) -> dict[str, Any]:
    """Current and candidate on the benchmark and the new items; the loop report."""
    from mkd.pipeline.loop_report import build_loop_report, write_loop_report

    p = ctx.outputs["plan"]
    candidate_version = ctx.output("evaluate", "version")
    candidate = candidate_version or f"run:{ctx.output('train', 'run_id')}"
    models = {"current": p["current"], "candidate": candidate}
    results: dict[str, dict[str, Any]] = {}
    for set_name, split in SETS.items():
        if split == "test_new" and not ctx.output("dataset", "new_items"):
            continue  # no new items this turn (loop.min_new_items: 0)
        for role, ref in models.items():
            if ref is None:
                continue
            ctx.console.print(f"compare: {role} {ref} on {set_name} ({split}.jsonl)")
            results.setdefault(set_name, {})[role] = _eval_on(ctx.cfg, ref, split)
    report = build_loop_report(ctx.cfg, p, models, results, ctx.store, ctx.outputs)
    uri = write_loop_report(ctx.store, report)
    ctx.console.print(f"loop report: {uri}")
    return {"report_uri": uri, "overall": report["overall"]}


def deploy(ctx: PipelineContext) -> dict[str, Any]:
    """The candidate in shadow behind the running app, or how to put it there."""
    from mkd.pipeline.rollout import deploy_shadow

    version = ctx.output("evaluate", "version")
    loop = ctx.cfg.loop
    if version is None:
        ctx.console.print("[yellow]deploy skipped[/]: the candidate was not registered")
        return {"deployed": False, "version": None}
    if not loop.serve_dashboard:
        how = (
            f"deploy skipped: no loop.serve_dashboard. To shadow {version}: set "
            "loop.serve_dashboard to the Serve cluster's dashboard (http://HEAD:8265) and run "
            f"`mkd loop` again (it resumes at this step), or `mkd serve --version {version}` "
            f"locally (shadow by default), or on Kubernetes set serving.student.version="
            f"{version} with serving.rollout.mode=shadow in the chart's values"
        )
        ctx.console.print(f"[yellow]{how}[/]")
        return {"deployed": False, "version": version, "how": how}
    ctx.console.print(f"deploying {version} in shadow at {loop.serve_dashboard} ({loop.serve_app})")
    live = deploy_shadow(loop.serve_dashboard, version, loop.serve_app, loop.deploy_timeout_s)
    ctx.console.print(
        f"{version} runs in shadow; promotion needs its gates: "
        f"mkd models promote {version} canary, then mkd rollout set --weight 0.05"
    )
    return {"deployed": True, "version": version, "router": live}


def loop_stages() -> list[Stage]:
    """The loop's stages; train and evaluate are the pipeline's own (mkd.pipeline.stages)."""
    from mkd.pipeline import stages as pipeline_stages

    section = pipeline_stages._section_inputs
    return [
        Stage("plan", "Plan: v(N), v(N+1), the current version", plan,
              lambda ctx: section(ctx.cfg.loop) | {"dataset": ctx.cfg.data.dataset}),
        Stage("dataset", "v(N+1): fixed benchmark + feedback + imports + reviews", dataset,
              lambda ctx: section(ctx.cfg.data) | {"pack": ctx.cfg.pack, "tasks": ctx.cfg.tasks}),
        Stage("train", "LoRA training, warm-started from the current adapter",
              _planned(pipeline_stages.train), pipeline_stages._training_inputs),
        Stage("evaluate", "Candidate on the benchmark: gates, registry",
              _planned(pipeline_stages.evaluate), lambda ctx: section(ctx.cfg.evaluation)),
        Stage("compare", "v(N) vs v(N+1) on the benchmark and the new items", _planned(compare),
              lambda ctx: section(ctx.cfg.evaluation)),
        Stage("deploy", "Candidate in shadow", _planned(deploy), always=True),
    ]  # fmt: skip


def run_loop(
    cfg: PipelineConfig, store: Store, console: Console | None = None, fresh: bool = False
) -> PipelineContext:
    """One turn: resume an unfinished one (unless `fresh`), else start the next.

    Raises:
        mkd.data.next_version.NothingNew: too few new records for a new version (nothing done).
    """
    console = console or Console(stderr=True)
    ctx = PipelineContext(cfg, store, console, state_name=loop_name(cfg))
    stages = loop_stages()
    state = load_state(ctx)
    new_turn = fresh or not state or all(s.name in state for s in stages)
    console.print(
        f"[bold]MKD loop[/] {cfg.name}: "
        + ("a new turn" if new_turn else "resuming the unfinished turn")
        + f" (store {cfg.store.uri})"
    )
    return run_stages(stages, ctx, fresh=new_turn)
