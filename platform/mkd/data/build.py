"""`mkd data build`: curated -> augmented -> labeled -> reviewed -> train/val/test + manifest.

Stage outputs live under work/<dataset>/<version>/ in the store (prompts.jsonl, labeled.jsonl,
quarantine.jsonl, label_report.json); the finished dataset under datasets/<dataset>/<version>/.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console

from mkd.config.pipeline import PipelineConfig
from mkd.data.augment import Augmenter, Prompt
from mkd.data.log_import import load_imports, merge_imports
from mkd.data.manifest import VersionExists, build_manifest, write_version
from mkd.data.paraphrase import paraphraser_for
from mkd.data.prompts_io import read_prompts, to_jsonl
from mkd.data.ray_labeling import run_labeling, split_rows, to_quarantine, to_record
from mkd.data.review import apply_overrides, load_overrides
from mkd.data.splits import family_overlap, split_by_family
from mkd.records import family_key
from mkd.storage import Store
from mkd.store_layout import dataset_manifest, dataset_prefix, work_prefix
from mkd.tasks import load_pack


def read_source(uri: str, cfg: PipelineConfig, store: Store) -> tuple[bytes, str]:
    """Bytes of pack://REL (inside the task pack), store://KEY or a local path, and its name."""
    if uri.startswith("pack://"):
        path = load_pack(cfg.pack).data_file(uri.removeprefix("pack://"))
        return path.read_bytes(), f"{cfg.pack}/{uri.removeprefix('pack://')}"
    if uri.startswith("store://"):
        return store.get_bytes(uri.removeprefix("store://")), uri
    return Path(uri).read_bytes(), uri


def stage_augment(cfg: PipelineConfig, store: Store, console: Console) -> dict[str, Any]:
    """Curated prompts -> variations -> work/.../prompts.jsonl (+ rejected curated lines)."""
    data, source = read_source(cfg.data.curated, cfg, store)
    curated, rejects = read_prompts(data, source)
    gaz_bytes, _ = read_source(cfg.data.gazetteers, cfg, store)
    paraphraser = paraphraser_for(cfg)
    if paraphraser is not None:
        paraphraser.prefetch([p["input"] for p in curated], cfg.data.augment.paraphrases_per_prompt)
    augmenter = Augmenter(yaml.safe_load(gaz_bytes) or {}, cfg.data.augment, cfg.seed, paraphraser)
    parents = [
        Prompt(
            p["id"],
            p["input"],
            family_key(p),
            p.get("source") or source,
            None,
            p.get("category_hint"),
        )
        for p in curated
    ]
    extra = {p["id"]: {k: p[k] for k in ("task", "context") if k in p} for p in curated}
    prompts = [
        {**p.to_dict(), **extra.get(p.family if p.operator else p.id, {})}
        for p in augmenter.run(parents)
    ]
    prefix = work_prefix(cfg.data.dataset, cfg.data.version)
    store.put_bytes(prefix + "prompts.jsonl", to_jsonl(prompts))
    store.put_bytes(prefix + "prompts_rejects.jsonl", to_jsonl(rejects))
    summary = {"curated": len(curated), "prompts": len(prompts), "rejected": len(rejects)}
    summary |= {"dropped_duplicates": augmenter.dropped}
    if paraphraser is not None:
        summary["paraphrase_failures"] = paraphraser.failures
    store.put_json(prefix + "augment_report.json", summary)
    console.print(f"augment: {summary}")
    return summary


def stage_label(cfg: PipelineConfig, store: Store, console: Console) -> dict[str, Any]:
    """work/.../prompts.jsonl -> labeled.jsonl + quarantine.jsonl (+ label_report.json)."""
    prefix = work_prefix(cfg.data.dataset, cfg.data.version)
    prompts, rejects = read_prompts(store.get_bytes(prefix + "prompts.jsonl"), "prompts.jsonl")
    if store.exists(prefix + "prompts_rejects.jsonl"):
        rejects += [
            json.loads(x)
            for x in store.get_bytes(prefix + "prompts_rejects.jsonl").splitlines()
            if x.strip()
        ]
    rows, report = run_labeling(cfg, prompts, console)
    labeled, quarantined, unlabeled = split_rows(rows)
    pack = load_pack(cfg.pack)
    versions = {name: t.prompt_version for name, t in pack.tasks.items()}
    records = [to_record(r, cfg.teacher.teacher_id, versions) for r in labeled]
    quarantine = [to_quarantine(r) for r in quarantined] + rejects
    summary = report.as_dict() | {"rejected_lines": len(rejects)}
    if report.budget_exhausted:
        console.print(
            f"[yellow]budget exhausted[/]: {len(unlabeled)} item(s) unlabeled; labels so far are "
            "cached, so raising teacher.budget_usd and re-running resumes where this stopped"
        )
        store.put_json(prefix + "label_report.json", summary)
        return summary
    store.put_bytes(prefix + "labeled.jsonl", to_jsonl(records))
    store.put_bytes(prefix + "quarantine.jsonl", to_jsonl(quarantine))
    store.put_json(prefix + "label_report.json", summary)  # last: the stage is complete
    console.print(
        f"label: {report.labeled} labeled, {report.quarantined} quarantined, "
        f"{len(rejects)} rejected line(s), {report.cached} from cache, "
        f"{report.prompt_tokens + report.completion_tokens:,} tokens, ${report.cost_usd:.4f}"
    )
    return summary


def stage_finish(cfg: PipelineConfig, store: Store, console: Console) -> dict[str, Any]:
    """Apply review overrides, split by family, write the version with its manifest last."""
    prefix = work_prefix(cfg.data.dataset, cfg.data.version)
    records = [
        json.loads(x) for x in store.get_bytes(prefix + "labeled.jsonl").splitlines() if x.strip()
    ]
    quarantine = store.get_bytes(prefix + "quarantine.jsonl")
    imported, import_quarantine, imports = load_imports(store, cfg.data.dataset, cfg.data.version)
    added, duplicates = merge_imports(records, imported)
    records += added
    if import_quarantine or duplicates:
        quarantine += to_jsonl(import_quarantine + duplicates)
    overrides = load_overrides(store, cfg.data.dataset, cfg.data.version)
    records, review, rejected = apply_overrides(records, overrides)
    if rejected:
        quarantine += to_jsonl(rejected)
    splits = split_by_family(records, cfg.seed, cfg.data.splits)
    leaks = family_overlap(splits)
    if leaks:  # impossible by construction; refuse rather than publish a leaking split
        raise RuntimeError(f"families in two splits: {leaks}")
    files = {f"{s}.jsonl": to_jsonl(recs) for s, recs in splits.items()}
    files["quarantine.jsonl"] = quarantine
    pack = load_pack(cfg.pack)
    extra = {
        "pack": {"name": pack.name, "version": pack.version},
        "teacher": {
            "id": cfg.teacher.teacher_id,
            "backend": cfg.teacher.backend,
            "model": cfg.teacher.model,
        },
        "prompt_versions": {t: pack.task(t).prompt_version for t in cfg.tasks},
        "parent": cfg.data.parent,
        "seed": cfg.seed,
        "split_ratios": cfg.data.splits.model_dump(),
        "augment": store.get_json(prefix + "augment_report.json")
        if store.exists(prefix + "augment_report.json")
        else None,
        "labeling": store.get_json(prefix + "label_report.json"),
        "review": review,
        "imports": imports,
    }
    ds_prefix = dataset_prefix(cfg.data.dataset, cfg.data.version)
    manifest = build_manifest(cfg.data.dataset, cfg.data.version, files, splits, extra)
    write_version(store, ds_prefix, files, manifest)
    console.print(f"dataset {store.uri_for(ds_prefix)}: {manifest['counts']['splits']}")
    return manifest


def build_dataset(cfg: PipelineConfig, store: Store, console: Console | None = None) -> dict:
    """All stages; refuses up front if the version is already finished (immutable)."""
    console = console or Console()
    ds_prefix = dataset_prefix(cfg.data.dataset, cfg.data.version)
    if store.exists(dataset_manifest(cfg.data.dataset, cfg.data.version)):
        raise VersionExists(
            f"dataset {cfg.data.dataset}/{cfg.data.version} already exists at "
            f"{store.uri_for(ds_prefix)}; versions are immutable: set data.version to a new one"
        )
    stage_augment(cfg, store, console)
    if stage_label(cfg, store, console)["budget_exhausted"]:
        raise RuntimeError("labeling stopped at the budget cap; dataset not built")
    return stage_finish(cfg, store, console)
