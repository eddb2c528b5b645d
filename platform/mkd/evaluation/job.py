"""The evaluation job: student vs teacher vs base on the test split, gates, report, registry.

from mkd.evaluation.job import run_evaluation
outcome = run_evaluation(load_config("configs/pipeline.yaml"))
outcome.passed, outcome.report["before_after"], outcome.version
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from mkd.config import PipelineConfig
from mkd.evaluation.datasets import load_split, spread_sample
from mkd.evaluation.gates import check_gates, gates_summary
from mkd.evaluation.lineage import base_model_info, dir_sha256, git_commit
from mkd.evaluation.metrics import gold_labels, overall, task_metrics
from mkd.evaluation.predict import Prediction, predict_on_ray
from mkd.evaluation.refs import ModelResolver, ResolvedModel
from mkd.evaluation.report import before_after, human_bytes, to_html, to_json, to_markdown
from mkd.inference import AUTO
from mkd.models.converted import local_cache_dir
from mkd.records import Record
from mkd.registry import ModelVersion, Registry
from mkd.storage import Store, open_store
from mkd.store_layout import (
    eval_predictions,
    eval_report,
    latest_dataset_version,
    latest_run,
    run_prefix,
)
from mkd.tasks import load_pack


@dataclass
class EvalOutcome:
    """What `mkd eval` reports: the report, where it went, the gates and the registry version."""

    report: dict[str, Any]
    passed: bool
    report_uri: str
    version: ModelVersion | None


def run_evaluation(
    cfg: PipelineConfig, config_given: bool = True, register: bool = True, progress: Any = None
) -> EvalOutcome:
    """Evaluate the configured candidate; write the report to evals/<id>/; register the result.

    The candidate is registered (or re-staged) as `candidate` when every gate passes and as
    `rejected` otherwise. Raises FileNotFoundError/RegistryError naming a missing run, dataset
    or model before any model is loaded.
    """
    ev = cfg.evaluation
    store = open_store(cfg.store)
    resolver = ModelResolver(cfg, store, local_cache_dir())
    candidate = resolver.resolve(ev.candidate or f"run:{latest_run(store)}")
    dataset = ev.dataset or candidate.lineage.get("dataset") or _latest(store, cfg)
    records = load_split(store, dataset, ev.split, cfg.tasks, ev.max_items_per_task)
    pack = load_pack(cfg.pack)

    roles: dict[str, ResolvedModel] = {}
    if ev.compare_teacher:
        roles["teacher"] = resolver.resolve("teacher")
    roles["student"] = candidate
    if ev.compare_base:
        roles["base"] = resolver.resolve(f"base:{_base_uri(candidate, cfg)}")
        if ev.base_fewshot:
            roles["base_fewshot"] = resolver.resolve(f"base:{_base_uri(candidate, cfg)}", "fewshot")

    picks = _role_items(roles, records, cfg)
    items = {role: [records[i] for i in idx] for role, idx in picks.items()}
    preds: dict[str, list[Prediction]] = {}
    for role, m in roles.items():  # the teacher first: without it nothing else can be scored
        preds[role] = predict(resolver, m, items[role], cfg, config_given, progress)
        if role == "teacher":
            require_teacher_answers(preds[role], cfg)
    latencies = {
        role: request_latencies(resolver, m, items[role], cfg, config_given)
        for role, m in roles.items()
    }
    answers = _teacher_answers(preds.get("teacher"), records)
    teacher_answers = {role: [answers[i] for i in idx] for role, idx in picks.items()}
    report = build_report(cfg, dataset, items, roles, preds, teacher_answers, pack, latencies)
    gates = gates_summary(check_gates(ev, _metrics_of(report, "student")))
    report["gates"] = gates
    report["before_after"] = before_after(report["models"], ev)
    report["guards_parity"] = guard_parity(cfg)
    uri = write_report(store, report, preds, items)
    version = _register(cfg, store, candidate, report, gates, dataset) if register else None
    return EvalOutcome(report, gates["passed"], uri, version)


class TeacherUnavailable(RuntimeError):
    """The teacher gave no valid answer at all: there is nothing to agree with."""


def require_teacher_answers(teacher: list[Prediction], cfg: PipelineConfig) -> None:
    """Refuse to score against a teacher that answered nothing (an endpoint down, a wrong URL
    or key): the report would show the teacher at 0.000 and call scores against the dataset
    labels "agreement with the teacher". Items it failed on alone fall back to the labels."""
    if not teacher or any(p.violation is None for p in teacher):
        return
    t = cfg.teacher
    where = f"{t.backend} at {t.base_url}" if t.backend == "openai" else t.backend
    raise TeacherUnavailable(
        f"the teacher ({where}) gave no valid answer to any of "
        f"{len(teacher)} test items (first: {teacher[0].violation}); start it or fix "
        "teacher.base_url, or set evaluation.compare_teacher: false to score against the "
        "dataset's labels"
    )


def guard_parity(cfg: PipelineConfig) -> dict[str, Any] | None:
    """The red-team set through the teacher (labeling) and student (serving) guard paths: how
    often their decisions differ (goal 0) and each path's precision/recall per family."""
    if not cfg.guards.enabled:
        return None
    from mkd.guards.parity import run_parity

    result = run_parity(cfg.guards, cfg.pack)
    return {k: result[k] for k in ("n", "differ", "differ_rate", "teacher", "student")}


def predict(
    resolver: ModelResolver,
    model: ResolvedModel,
    records: Sequence[Record],
    cfg: PipelineConfig,
    config_given: bool = True,
    progress: Any = None,
) -> list[Prediction]:
    """Predictions of one model, on Ray Data when a cluster is configured, else in-process."""
    ev = cfg.evaluation
    if model.kind == "local" and ev.ray_address:
        return predict_on_ray(
            model.spec, cfg.pack, records, ev.ray_address, ev.batch_size,
            ev.actor_num_cpus, ev.actor_num_gpus, ev.max_new_tokens, ev.decoding,
        )  # fmt: skip
    predictor = resolver.predictor(model, load_pack(cfg.pack), config_given)
    if progress is None:
        return predictor.predict(records)
    task_id = progress.add_task(f"predict {model.ref}", total=len(records))
    try:
        return predictor.predict(records, on_batch=lambda n: progress.advance(task_id, n))
    finally:
        progress.remove_task(task_id)


def request_latencies(
    resolver: ModelResolver,
    model: ResolvedModel,
    records: Sequence[Record],
    cfg: PipelineConfig,
    config_given: bool = True,
) -> list[float]:
    """Seconds per request of a local model answering alone (batch 1), on the first
    `evaluation.latency_probe_items` records of each task: the figure to set beside a remote
    teacher's per-request latency (a batch's wall time shared by its items is a cost, not a
    latency). The teacher's own predictions are already per request."""
    per_task = cfg.evaluation.latency_probe_items
    if model.kind != "local" or not per_task:
        return []
    picked: list[Record] = []
    for task in cfg.tasks:
        picked += [r for r in records if r.task == task][:per_task]
    predictor = resolver.predictor(model, load_pack(cfg.pack), config_given)
    predictor.batch_size = 1
    return [p.latency_s for p in predictor.predict(picked)]


def _latest(store: Store, cfg: PipelineConfig) -> str:
    return f"{cfg.data.dataset}/{latest_dataset_version(store, cfg.data.dataset)}"


def _base_uri(candidate: ResolvedModel, cfg: PipelineConfig) -> str:
    return candidate.lineage.get("base_model") or cfg.training.base_model


def _role_items(
    roles: dict[str, ResolvedModel], records: Sequence[Record], cfg: PipelineConfig
) -> dict[str, list[int]]:
    """Indices of the records each role answers: all of them, except the base model's rows,
    which use `evaluation.base_max_items_per_task` (a family-spread subset of the same items)."""
    everything = list(range(len(records)))
    cap = cfg.evaluation.base_max_items_per_task
    if cap is None:
        return {role: everything for role in roles}
    position = {id(r): i for i, r in enumerate(records)}
    subset = [position[id(r)] for r in spread_sample(records, cfg.tasks, cap)]
    return {role: subset if role.startswith("base") else everything for role in roles}


def _teacher_answers(
    teacher: list[Prediction] | None, records: Sequence[Record]
) -> list[str | None]:
    if teacher is None:
        return [r.output for r in records]
    return [p.output if p.violation is None else None for p in teacher]


def _metrics_of(report: dict, role: str):
    from mkd.evaluation.metrics import TaskMetrics

    return {t: TaskMetrics(**m) for t, m in report["models"][role]["tasks"].items()}


def build_report(
    cfg: PipelineConfig,
    dataset: str,
    records: dict[str, Sequence[Record]],
    roles: dict[str, ResolvedModel],
    preds: dict[str, list[Prediction]],
    teacher_answers: dict[str, list[str | None]],
    pack: Any,
    request_latency: dict[str, list[float]] | None = None,
) -> dict[str, Any]:
    """The report's data: per model per task metrics, samples for plots, sizes, lineage.

    `records` and `teacher_answers` are per role (the base rows may use a subset);
    `request_latency` holds each local model's seconds per request answering alone."""
    from mkd.evaluation.metrics import percentile

    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    models = {}
    pack_gold = pack.gold_answers()
    for role, model in roles.items():
        gold = gold_labels(records[role], cfg.evaluation.gold_field, pack_gold)
        metrics = task_metrics(pack, records[role], preds[role], teacher_answers[role], gold)
        alone = (request_latency or {}).get(role) or [p.latency_s for p in preds[role]]
        models[role] = {
            "ref": model.ref,
            **engine_used(model, preds[role]),
            "prompt": model.spec.prompt if model.spec else "teacher",
            "size_bytes": model.size_bytes,
            "tasks": {t: m.as_dict() for t, m in metrics.items()},
            "overall": overall(metrics),
            "request_latency": {
                "p50_s": percentile(alone, 50),
                "p95_s": percentile(alone, 95),
                "n": len(alone),
            },
            "samples": {
                "latency_s": [p.latency_s for p in preds[role]],
                "prompt_tokens": [p.prompt_tokens for p in preds[role]],
                "output_tokens": [p.output_tokens for p in preds[role]],
            },
        }
    student = roles.get("student")
    if student is not None and student.lineage.get("run_id"):
        base = models.get("base", {}).get("size_bytes")
        models["student"]["size_note"] = f"LoRA adapter on the {human_bytes(base)} base"
    candidate_ref = student.ref if student else "-"
    notes = [
        "latency per request: each model answering one request at a time (local models on "
        "this machine's CPU, the teacher over HTTP); seconds per query in the detail tables "
        f"share a batch's wall time among its items (batch {cfg.evaluation.batch_size}).",
        "agreement: the task's scorer applied to the model's answer against the teacher's live "
        "answer on the same item, with a 95% interval; the teacher's agreement with itself is 1 "
        "by construction. gold: against human labels, where a test query has one.",
    ]
    return {
        "id": f"{created.replace(':', '').replace('-', '')}-{_slug(candidate_ref)}",
        "kind": "evaluation",
        "created_at": created,
        "dataset": dataset,
        "split": cfg.evaluation.split,
        "decoding": cfg.evaluation.decoding,
        "items": len(records["student"]),
        "items_per_role": {role: len(rs) for role, rs in records.items()},
        "candidate": {"ref": candidate_ref, "lineage": student.lineage if student else {}},
        "models": models,
        "notes": notes,
    }


def engine_used(model: ResolvedModel, preds: Sequence[Prediction]) -> dict[str, str]:
    """The engine that scored a model (read off its predictions: a Ray actor may have chosen
    it), and why a GGUF was not scored by llama.cpp, the engine that serves it."""
    engines = sorted({p.engine for p in preds if p.engine})
    if not engines:
        return {}
    used = {"engine": ", ".join(engines)}
    if model.spec is not None and model.spec.engine == AUTO and "llamacpp" not in engines:
        used["engine_note"] = (
            "GGUF dequantised into transformers: llama_cpp is not installed where it ran "
            "(pip install 'mkd[edge]' to score it with llama.cpp, as served)"
        )
    return used


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in text)[:60]


def write_report(
    store: Store,
    report: dict,
    preds: dict[str, list[Prediction]],
    records: dict[str, Sequence[Record]],
) -> str:
    """evals/<id>/report.{json,md,html} and predictions/<role>.jsonl; report.json written last."""
    eval_id = report["id"]
    for role, items in preds.items():
        lines = [
            Record(input=r.input, task=r.task, context=r.context, output=p.output).model_dump(
                exclude_none=True
            )
            | {k: v for k, v in asdict(p).items() if k not in ("task", "output")}
            for r, p in zip(records[role], items, strict=True)
        ]
        data = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)
        store.put_bytes(eval_predictions(eval_id, role), data.encode())
    store.put_bytes(eval_report(eval_id, "md"), to_markdown(report).encode())
    store.put_bytes(eval_report(eval_id, "html"), to_html(report).encode())
    store.put_bytes(eval_report(eval_id, "json"), to_json(report).encode())
    return store.uri_for(eval_report(eval_id, "html"))


def _register(
    cfg: PipelineConfig,
    store: Store,
    candidate: ResolvedModel,
    report: dict,
    gates: dict,
    dataset: str,
) -> ModelVersion | None:
    """Register the candidate run (or re-stage a registry version) per its gate result."""
    registry = Registry(store)
    stage = "candidate" if gates["passed"] else "rejected"
    reason = f"evaluation {report['id']}: gates {'passed' if gates['passed'] else 'failed'}"
    if "registry" in candidate.lineage:
        registry.promote(candidate.lineage["registry"], stage, reason=reason, force=True)
        return registry.resolve(candidate.lineage["registry"])
    run_id = candidate.lineage.get("run_id")
    if not run_id:
        return None  # a base model or a path: nothing to register
    name = cfg.evaluation.register_as or f"{cfg.name}-student"
    for mv in registry.list(name):
        if mv.manifest.get("training_run") == run_id and mv.manifest.get("variant") == "adapter":
            registry.promote(mv.ref, stage, reason=reason, force=True)
            return registry.get(name, mv.version)
    return register_adapter(registry, name, candidate, report, gates, dataset, stage, reason, store)


def register_adapter(
    registry: Registry,
    name: str,
    candidate: ResolvedModel,
    report: dict,
    gates: dict,
    dataset: str,
    stage: str,
    reason: str,
    store: Store,
) -> ModelVersion:
    """A new version holding the run's adapter and tokenizer, the eval report and a model card."""
    from mkd.export.modelcard import model_card

    spec = candidate.spec
    run_id = candidate.lineage["run_id"]
    adapter = Path(spec.adapter_path)
    files = {
        f"adapter/{p.relative_to(adapter).as_posix()}": p
        for p in adapter.rglob("*")
        if p.is_file() and not p.name.startswith(".")
    }
    tmp = Path(tempfile.mkdtemp(prefix="mkd-eval-"))
    tok_prefix = run_prefix(run_id) + "tokenizer/"
    tokenizer_sha = None
    if store.list(tok_prefix):
        tok_dir = store.get_dir(tok_prefix, tmp / "tokenizer")
        files |= {
            f"tokenizer/{p.relative_to(tok_dir).as_posix()}": p
            for p in tok_dir.rglob("*")
            if p.is_file()
        }
        tokenizer_sha = dir_sha256(tok_dir)
    for ext in ("json", "md", "html"):
        path = tmp / f"report.{ext}"
        path.write_bytes(store.get_bytes(eval_report(report["id"], ext)))
        files[f"eval/report.{ext}"] = path
    student = report["models"]["student"]["tasks"]
    manifest = {
        "variant": "adapter",
        "quantization": "none (LoRA adapter on the base model)",
        "base_model": base_model_info(spec.base_uri),
        "adapter_sha256": dir_sha256(adapter),
        "tokenizer_sha256": tokenizer_sha,
        "dataset": dataset,
        "training_run": run_id,
        "eval": {"report": store.uri_for(eval_report(report["id"])), "tasks": student},
        "gates": gates,
        "git_commit": git_commit(),
        "lineage": {
            "run_id": run_id,
            "base_model": spec.base_uri,
            "dataset": dataset,
            **({"init_adapter": ini} if (ini := candidate.lineage.get("init_adapter")) else {}),
        },
    }
    return registry.register(
        name, manifest, files, stage=stage, reason=reason,
        readme=lambda m: model_card(m, student),
    )  # fmt: skip
