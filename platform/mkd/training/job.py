"""The driver of a training run: check inputs, start Ray Train, follow progress, store outputs.

run = run_training(cfg, store)                 # new run
run = run_training(cfg, store, resume=RUN_ID)  # continue from its last checkpoint
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from mkd.config import PipelineConfig, dump_config
from mkd.config.loader import parse_config
from mkd.store_layout import run_config, run_key, run_manifest
from mkd.training.inputs import (
    DatasetInput,
    TrainingInputError,
    check_base_model,
    check_tasks,
    resolve_dataset,
)
from mkd.training.sessions import PROGRESS_ACTOR_PREFIX
from mkd.training.warm_start import WarmStartError, resolve_init_adapter

# What Ray Train workers need in their environment on a loopback cluster.
WORKER_ENV_KEYS = ("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "HF_HUB_OFFLINE", "TOKENIZERS_PARALLELISM",
                   "MKD_TRAIN_PIDFILE", "HF_HOME", "HF_TOKEN")  # fmt: skip


@dataclass
class RunPlan:
    """A checked run, ready to start."""

    run_id: str
    cfg: PipelineConfig
    dataset: DatasetInput
    tasks: list[str]
    seed: int
    init_adapter: dict[str, Any] | None = None  # the checked warm start (warm_start.py)


def new_run_id(cfg: PipelineConfig) -> str:
    return f"{cfg.name}-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"


def plan_run(cfg: PipelineConfig, store: Any, resume: str | None = None) -> RunPlan:
    """Every input checked before work starts; on resume, the run's own stored config wins."""
    if resume:
        if store.exists(run_manifest(resume)):
            raise TrainingInputError(f"--resume: run {resume} is already finished")
        if not store.exists(run_config(resume)):
            raise TrainingInputError(f"--resume: no run {resume} in {store.uri}")
        import yaml

        stored = yaml.safe_load(store.get_bytes(run_config(resume)))
        cfg = parse_config(stored, store.uri_for(run_config(resume)))
    t = cfg.training
    check_base_model(t.base_model)
    tasks = t.tasks or cfg.tasks
    unknown = [x for x in tasks if x not in cfg.tasks]
    if unknown:
        raise TrainingInputError(f"training.tasks: {unknown} are not tasks of this pipeline")
    dataset = resolve_dataset(t.dataset, store, cfg.data.dataset)
    check_tasks(dataset, tasks)
    dataset.train = [r for r in dataset.train if r.task in tasks and r.output is not None]
    dataset.val = [r for r in dataset.val if r.task in tasks and r.output is not None]
    seed = t.seed if t.seed is not None else cfg.seed
    try:
        init = resolve_init_adapter(t, store)
    except WarmStartError as exc:
        raise TrainingInputError(str(exc)) from None
    return RunPlan(resume or new_run_id(cfg), cfg, dataset, sorted(tasks), seed, init)


def _worker_env(cfg: Any) -> dict[str, str]:
    """What Ray Train workers find in their environment (set before torch starts its threads)."""
    import os

    env = {k: os.environ[k] for k in WORKER_ENV_KEYS if k in os.environ}
    if cfg.scaling.omp_wait_policy:
        env["OMP_WAIT_POLICY"] = cfg.scaling.omp_wait_policy
    return env


def make_trainer(plan: RunPlan, store: Any) -> Any:
    """A TorchTrainer running the plain loop, checkpointing under runs/<run_id>/ray/."""
    from ray.train import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchConfig, TorchTrainer

    from mkd.training.sessions import train_worker

    t = plan.cfg.training
    fs, base = store.pyarrow_fs()
    resources = {"CPU": t.scaling.cpus_per_worker, **t.scaling.resources_per_worker}
    if t.scaling.use_gpu:
        resources["GPU"] = t.scaling.gpus_per_worker
    loop_config = {
        "run_id": plan.run_id,
        "training": t.model_dump(mode="json"),
        "pack": plan.cfg.pack,
        "tasks": plan.tasks,
        "seed": plan.seed,
        "train": [r.model_dump(exclude_none=True) for r in plan.dataset.train],
        "val": [r.model_dump(exclude_none=True) for r in plan.dataset.val],
        "init_adapter": plan.init_adapter,
        "store": plan.cfg.store.model_dump(mode="json") if plan.init_adapter else None,
    }
    return TorchTrainer(
        train_worker,
        train_loop_config=loop_config,
        torch_config=TorchConfig(backend="nccl" if t.scaling.use_gpu else "gloo"),
        scaling_config=ScalingConfig(
            num_workers=t.scaling.num_workers,
            use_gpu=t.scaling.use_gpu,
            resources_per_worker=resources,
        ),
        run_config=RunConfig(
            name="ray",
            storage_path=f"{base.rstrip('/')}/{run_key(plan.run_id)}",
            storage_filesystem=fs,
            checkpoint_config=CheckpointConfig(
                num_to_keep=t.keep_best_k,
                **_checkpoint_ranking(t),
            ),
            failure_config=FailureConfig(max_failures=t.max_failures),
            worker_runtime_env={"env_vars": _worker_env(t)},
        ),
    )


def _checkpoint_ranking(t: Any) -> dict[str, str]:
    """Which checkpoints Ray Train keeps: the best by the run's early-stopping metric."""
    if t.early_stopping_metric == "agreement":
        return {"checkpoint_score_attribute": "val_agreement", "checkpoint_score_order": "max"}
    return {"checkpoint_score_attribute": "val_loss", "checkpoint_score_order": "min"}


def _progress_actor(run_id: str) -> Any:
    import ray

    @ray.remote(num_cpus=0)
    class TrainProgress:
        """Latest metrics from rank 0, read by the driver's progress bar."""

        def __init__(self) -> None:
            self.latest: dict[str, Any] = {}

        def update(self, metrics: dict[str, Any]) -> None:
            self.latest = {**self.latest, **metrics}

        def get(self) -> dict[str, Any]:
            return self.latest

    return TrainProgress.options(name=PROGRESS_ACTOR_PREFIX + run_id).remote()


def fit_with_progress(trainer: Any, run_id: str, console: Any) -> Any:
    """trainer.fit() in a thread; a rich bar shows step, loss, tokens/s and ETA meanwhile."""
    import ray
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        TextColumn,
        TimeElapsedColumn,  # fmt: skip
        TimeRemainingColumn,
    )

    from mkd.progress import LoggedProgress

    actor = _progress_actor(run_id)
    outcome: dict[str, Any] = {}

    def fit() -> None:
        try:
            outcome["result"] = trainer.fit()
        except BaseException as exc:  # re-raised in the driver's thread below
            outcome["error"] = exc

    thread = threading.Thread(target=fit, name="ray-train-fit", daemon=True)
    thread.start()
    columns = (TextColumn("[bold]training"), BarColumn(), MofNCompleteColumn(),
               TextColumn("loss {task.fields[loss]:.4f}  {task.fields[tps]:.0f} tok/s"),
               TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn())  # fmt: skip
    with LoggedProgress(*columns, console=console) as bar:
        task = bar.add_task("train", total=None, loss=float("nan"), tps=0.0)
        while thread.is_alive():
            thread.join(timeout=2.0)
            m = ray.get(actor.get.remote())
            bar.update(task, total=m.get("total_steps"), completed=m.get("step", 0),
                       loss=m.get("loss", float("nan")), tps=m.get("tokens_per_s", 0.0))  # fmt: skip
    ray.kill(actor)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def run_training(
    cfg: PipelineConfig,
    store: Any,
    console: Any = None,
    resume: str | None = None,
    ray_address: str | None = None,
) -> dict[str, Any]:
    """Train the student on Ray Train and write the run to the store; returns its manifest.

    Raises:
        TrainingInputError: a bad input (dataset, base model, task, --resume), before any work.
        ray.train.TrainingFailedError: the workers failed more than max_failures times.
    """
    import tempfile

    from rich.console import Console

    from mkd.data.ray_labeling import ray_session
    from mkd.models.stored import load_tokenizer, record_base_model
    from mkd.training.outputs import write_run_outputs

    console = console or Console(stderr=True)
    started = time.time()
    plan = plan_run(cfg, store, resume)
    t = plan.cfg.training
    if not resume:
        store.put_bytes(run_config(plan.run_id), dump_config(plan.cfg).encode())
    console.print(f"run [bold]{plan.run_id}[/]: {len(plan.dataset.train)} train / "
                  f"{len(plan.dataset.val)} val examples, tasks {', '.join(plan.tasks)}")  # fmt: skip
    tokenizer = load_tokenizer(t.base_model)
    base = record_base_model(store, t.base_model, tokenizer)
    with ray_session(ray_address or t.ray_address):
        result = fit_with_progress(make_trainer(plan, store), plan.run_id, console)
    with tempfile.TemporaryDirectory(prefix="mkd-final-") as tmp:
        result.checkpoint.to_directory(tmp)
        manifest = write_run_outputs(store, plan.run_id, tmp, tokenizer, {
            "base_model": base,
            "dataset": plan.dataset.lineage(),
            "tasks": plan.tasks,
            "seed": plan.seed,
            "backend": t.backend,
            "init_adapter": plan.init_adapter,
            "budget_minutes": t.budget_minutes,
            "checkpoints": store.uri_for(run_key(plan.run_id, "ray")),
            "wall_seconds": round(time.time() - started, 2),
        })  # fmt: skip
    console.print(f"run [bold]{plan.run_id}[/] done: {manifest['steps']} steps "
                  f"({manifest['epochs']:.2f} epochs, {manifest['train_seconds'] / 60:.1f} min, "
                  f"{manifest['precision'].get('dtype')} on {manifest['precision'].get('isa')}), "
                  f"kept val point: agreement {manifest['best_val_agreement']} at step "
                  f"{manifest['best_step']}, adapter {manifest['adapter_bytes'] / 1e6:.1f} MB "
                  f"-> {store.uri_for(run_key(plan.run_id))}")  # fmt: skip
    return manifest
