"""The export job: master + quantized variants, each evaluated, refused beyond the tolerance.

    from mkd.export.job import run_export
    outcome = run_export(load_config("configs/pipeline.yaml"))

Every variant is derived from the merged master (never from another quantized file) and
answers the same test items with the same evaluation code; a variant whose mean score drops
more than `export.tolerance` below the master's is refused and never registered.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mkd.config import PipelineConfig
from mkd.evaluation.datasets import load_split
from mkd.evaluation.gates import check_gates, gates_summary
from mkd.evaluation.lineage import dir_sha256, git_commit
from mkd.evaluation.metrics import gold_labels, overall, task_metrics
from mkd.evaluation.predict import LocalPredictor, ModelSpec
from mkd.evaluation.refs import ModelResolver, dir_size
from mkd.export.gguf import (
    CONVERTER_TYPES,
    LLAMA_CPP_TYPES,
    ExportSkipped,
    convert_hf_to_gguf,
    modelfile,
    quantize_gguf,
)
from mkd.export.merge import merge_master
from mkd.export.modelcard import model_card
from mkd.export.nf4 import quantize_nf4
from mkd.models.converted import local_cache_dir
from mkd.registry import ModelVersion, Registry, RegistryError
from mkd.storage import Store, open_store
from mkd.store_layout import eval_report
from mkd.tasks import load_pack


@dataclass
class ExportOutcome:
    """Per variant: status (accepted, refused, skipped), size, scores; the versions registered."""

    source: str
    variants: dict[str, dict[str, Any]]
    versions: list[ModelVersion] = field(default_factory=list)
    report_uri: str = ""


def run_export(cfg: PipelineConfig, progress: Any = None) -> ExportOutcome:
    """Export the configured adapter version; register every accepted variant."""
    store = open_store(cfg.store)
    registry = Registry(store)
    source = registry.resolve(cfg.export.model or f"{cfg.name}-student@candidate")
    if source.manifest.get("variant") != "adapter":
        raise RegistryError(
            f"{source.ref} is a {source.manifest.get('variant')} export, not an adapter"
        )
    resolved = ModelResolver(cfg, store, local_cache_dir()).resolve(source.ref)
    records = load_split(
        store, source.manifest["dataset"], cfg.evaluation.split, cfg.tasks,
        cfg.export.max_items_per_task,
    )  # fmt: skip
    work = Path(tempfile.mkdtemp(prefix="mkd-export-"))
    _step(progress, "merge the adapter into the master")
    master = merge_master(
        resolved.spec.base_uri, resolved.spec.adapter_path, work / "master", cfg.export.master_dtype
    )
    builder = _Builder(cfg, master, work)
    variants: dict[str, dict[str, Any]] = {}
    for variant in ["master", *[v for v in cfg.export.variants if v != "master"]]:
        _step(progress, f"build and evaluate {variant}")
        try:
            artifact, spec = builder.build(variant)
        except ExportSkipped as exc:
            variants[variant] = {"status": "skipped", "reason": str(exc)}
            continue
        variants[variant] = _evaluate(cfg, spec, records, artifact)
    _judge(variants, cfg.export.tolerance)
    outcome = ExportOutcome(source.ref, variants)
    outcome.report_uri = _write_report(store, source, variants, cfg)
    for variant, result in variants.items():
        if result["status"] == "accepted" and variant in cfg.export.variants:
            outcome.versions.append(_register(registry, source, variant, result, outcome, cfg))
    return outcome


def _step(progress: Any, text: str) -> None:
    if progress is not None and hasattr(progress, "console"):
        progress.console.print(f"[bold]export[/]: {text}")


class _Builder:
    """Builds each variant's artifact from the master (the f16 GGUF once, for re-quantizing)."""

    def __init__(self, cfg: PipelineConfig, master: Path, work: Path) -> None:
        self.cfg, self.master, self.work = cfg, master, work
        self._f16: Path | None = None

    def build(self, variant: str) -> tuple[Path, ModelSpec]:
        ex = self.cfg.export
        if variant == "master":
            return self.master, ModelSpec(variant, str(self.master), dtype=ex.master_dtype)
        if variant == "nf4":
            out = quantize_nf4(self.master, self.work / "nf4")
            return out, ModelSpec(variant, str(out), quantization="nf4")
        out = self.work / variant / "model.gguf"
        out.parent.mkdir(parents=True, exist_ok=True)
        if variant in CONVERTER_TYPES:
            convert_hf_to_gguf(self.master, out, CONVERTER_TYPES[variant], ex.converter_dir)
        elif variant in LLAMA_CPP_TYPES:
            quantize_gguf(self._f16_file(), out, variant)
        else:
            raise ExportSkipped(f"unknown variant {variant!r}")
        stop = ex.ollama
        (out.parent / "Modelfile").write_text(modelfile("model.gguf", stop))
        # Round trip: the GGUF answers the test items as served (llama.cpp where installed,
        # transformers dequantising it otherwise); the result names the engine.
        return out, ModelSpec(variant, str(out), engine="auto")

    def _f16_file(self) -> Path:
        if self._f16 is None:
            self._f16 = convert_hf_to_gguf(
                self.master, self.work / "f16-source.gguf", "f16", self.cfg.export.converter_dir
            )
        return self._f16


def _evaluate(cfg: PipelineConfig, spec: ModelSpec, records: list, artifact: Path) -> dict:
    pack = load_pack(cfg.pack)
    ev = cfg.evaluation
    predictor = LocalPredictor(spec, pack, ev.batch_size, ev.max_new_tokens, ev.decoding)
    preds = predictor.predict(records)
    # The test labels are the teacher's answers: agreement is measured against them here.
    gold = gold_labels(records, ev.gold_field, pack.gold_answers())
    metrics = task_metrics(pack, records, preds, [r.output for r in records], gold)
    return {
        "status": "built",
        "artifact": str(artifact),
        "size_bytes": dir_size(artifact),
        "tasks": {t: m.as_dict() for t, m in metrics.items()},
        "overall": overall(metrics),
        "gates": gates_summary(check_gates(ev, metrics)),
        "items": len(records),
        "engine": predictor.backend,
    }


def _judge(variants: dict[str, dict], tolerance: float) -> None:
    """Accept the master; refuse a variant whose mean score fell more than `tolerance`."""
    reference = variants["master"]["overall"]["score"]
    for name, result in variants.items():
        if result["status"] != "built":
            continue
        drop = reference - result["overall"]["score"]
        result["drop_vs_master"] = drop
        ok = name == "master" or drop <= tolerance
        result["status"] = "accepted" if ok else "refused"
        if not ok:
            result["reason"] = f"score fell {drop:.3f} below the master (tolerance {tolerance:.3f})"


def _write_report(store: Store, source: ModelVersion, variants: dict, cfg: PipelineConfig) -> str:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    report_id = f"{stamp}-export-{source.name}-{source.version}"
    report = {
        "kind": "export",
        "source": source.ref,
        "tolerance": cfg.export.tolerance,
        "variants": {
            k: {kk: vv for kk, vv in v.items() if kk != "artifact"} for k, v in variants.items()
        },
    }
    store.put_bytes(eval_report(report_id, "md"), export_markdown(report).encode())
    store.put_json(eval_report(report_id), report)
    return store.uri_for(eval_report(report_id))


def export_markdown(report: dict) -> str:
    """Per variant: status, size, mean score, drop against the master, per-task scores."""
    from mkd.evaluation.report import human_bytes

    tasks = sorted({t for v in report["variants"].values() for t in v.get("tasks", {})})
    lines = [f"# Export of {report['source']} (tolerance {report['tolerance']})", ""]
    lines.append(
        "| variant | status | size | mean score | drop vs master | " + " | ".join(tasks) + " |"
    )
    lines.append("|---" * (5 + len(tasks)) + "|")
    for name, v in report["variants"].items():
        ov = v.get("overall", {})
        cells = [
            name, v["status"], human_bytes(v.get("size_bytes")),
            f"{ov['score']:.3f}" if ov else "-",
            f"{v['drop_vs_master']:+.3f}" if "drop_vs_master" in v else "-",
            *[f"{v['tasks'][t]['score']:.3f}" if t in v.get("tasks", {}) else "-" for t in tasks],
        ]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    reasons = [f"- {k}: {v['reason']}" for k, v in report["variants"].items() if v.get("reason")]
    return "\n".join(lines + (["", *reasons] if reasons else [])) + "\n"


def _register(
    registry: Registry,
    source: ModelVersion,
    variant: str,
    result: dict,
    outcome: ExportOutcome,
    cfg: PipelineConfig,
) -> ModelVersion:
    artifact = Path(result["artifact"])
    if variant.startswith("gguf-"):
        files = {"model.gguf": artifact, "Modelfile": artifact.parent / "Modelfile"}
        tokenizer_sha = source.manifest.get("tokenizer_sha256")
    else:
        files = {
            f"{variant}/{p.relative_to(artifact).as_posix()}": p
            for p in artifact.rglob("*") if p.is_file()
        }  # fmt: skip
        tokenizer_sha = dir_sha256(artifact / "tokenizer.json")
    m = source.manifest
    manifest = {
        "variant": variant,
        "quantization": _QUANT.get(variant, variant),
        "parent": source.ref,
        "base_model": m.get("base_model"),
        "adapter_sha256": m.get("adapter_sha256"),
        "tokenizer_sha256": tokenizer_sha,
        "dataset": m.get("dataset"),
        "training_run": m.get("training_run"),
        "size_bytes": result["size_bytes"],
        "eval": {"report": outcome.report_uri, "tasks": result["tasks"], "overall": result["overall"],
                 "drop_vs_master": result.get("drop_vs_master"), "tolerance": cfg.export.tolerance},
        "gates": result["gates"],
        "git_commit": git_commit(),
        "lineage": {**m.get("lineage", {}), "parent": source.ref},
    }  # fmt: skip
    stage = "candidate" if result["gates"]["passed"] else "rejected"
    return registry.register(
        source.name, manifest, files, stage=stage,
        reason=f"export of {source.ref}: {variant}, gates {'passed' if stage == 'candidate' else 'failed'}",
        readme=lambda full: model_card(full, result["tasks"]),
    )  # fmt: skip


_QUANT = {
    "master": "none (merged, full precision)",
    "nf4": "bitsandbytes nf4 4-bit, double quantization",
    "gguf-f16": "GGUF f16",
    "gguf-q8_0": "GGUF q8_0",
    "gguf-Q4_K_M": "GGUF Q4_K_M",
    "gguf-Q4_1": "GGUF Q4_1",
}
