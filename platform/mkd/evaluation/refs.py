"""Model references: what `--model REF` may name, turned into something that predicts.

teacher                     the configured teacher backend (reference teacher without config)
base:   / base:URI          the untouched base model (the pipeline's, or the URI given)
finance-student:3           a registry version (adapter, master, nf4 or GGUF variant)
finance-student@production  the version holding a stage
run:ID  / ID                a training run's adapter on its base model
/path/dir, /path/x.gguf     a local model directory or GGUF file
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mkd.config import PipelineConfig
from mkd.evaluation.predict import LocalPredictor, ModelSpec, PromptStyle, TeacherPredictor
from mkd.registry import Registry, RegistryError, parse_ref
from mkd.storage import Store
from mkd.store_layout import dataset_ref_of, run_key, run_manifest, run_prefix
from mkd.tasks import TaskPack


@dataclass
class ResolvedModel:
    """A model ready to load: a local spec, or the teacher. lineage says where it came from."""

    ref: str
    kind: str  # "local" | "teacher"
    spec: ModelSpec | None = None
    lineage: dict[str, Any] = field(default_factory=dict)
    size_bytes: int | None = None


def dir_size(path: str | Path) -> int:
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def base_size(uri: str) -> int | None:
    """Bytes of a base model's weights as shipped (the GGUF file or the directory)."""
    from mkd.models import resolve_model_uri

    try:
        ref = resolve_model_uri(uri)
    except FileNotFoundError:
        return None
    if ref.gguf_file:
        return (Path(ref.path) / ref.gguf_file).stat().st_size
    return dir_size(ref.path) if Path(ref.path).is_dir() else None


def run_base_uri(manifest: dict[str, Any], fallback: str) -> str:
    """The base model a run trained on, whatever shape its manifest gives it."""
    base = manifest.get("base_model") or manifest.get("base_model_uri")
    if isinstance(base, dict):
        base = base.get("uri")
    return str(base or fallback)


def run_dataset(manifest: dict[str, Any]) -> str | None:
    """`NAME/VERSION` of the dataset a run trained on, if its manifest names it."""
    ds = manifest.get("dataset")
    if isinstance(ds, dict):
        if ds.get("name") and ds.get("version"):
            return f"{ds['name']}/{ds['version']}"
        ds = ds.get("ref") or ds.get("uri") or ds.get("prefix")
    if isinstance(ds, str) and ds:
        return dataset_ref_of(ds)
    return None


class ModelResolver:
    """Resolves refs against one store and config; downloads into a local cache directory."""

    def __init__(self, cfg: PipelineConfig, store: Store, cache_dir: str | Path) -> None:
        self.cfg, self.store = cfg, store
        self.cache = Path(cache_dir)
        self.registry = Registry(store)

    def resolve(self, ref: str, prompt: PromptStyle = "student") -> ResolvedModel:
        """Turn REF into a ResolvedModel; FileNotFoundError/RegistryError naming what is missing."""
        dtype = self.cfg.evaluation.dtype
        if ref == "teacher":
            return ResolvedModel(ref, "teacher", lineage={"teacher": self.cfg.teacher.backend})
        if ref == "base" or ref.startswith("base:"):
            uri = ref.partition(":")[2] or self.cfg.training.base_model
            spec = ModelSpec(ref, uri, prompt=prompt, dtype=dtype)
            return ResolvedModel(ref, "local", spec, {"base_model": uri}, base_size(uri))
        if ref.startswith("run:") or self.store.exists(run_manifest(ref)):
            return self._run(ref.removeprefix("run:"), prompt)
        if "/" not in ref and _is_registry_ref(ref) and self.registry.versions(parse_ref(ref)[0]):
            return self._registry(ref, prompt)
        if Path(ref.removeprefix("file://")).exists() or "://" in ref:
            engine = "auto" if ref.endswith(".gguf") else "transformers"  # a GGUF: as served
            spec = ModelSpec(ref, ref, prompt=prompt, dtype=dtype, engine=engine)
            return ResolvedModel(ref, "local", spec, {"base_model": ref}, base_size(ref))
        raise FileNotFoundError(
            f"model {ref!r}: not 'teacher', 'base:[URI]', a run in {self.store.uri}/runs/, a "
            f"registry model ({', '.join(self.registry.names()) or 'none registered'}), nor a path"
        )

    def _run(self, run_id: str, prompt: PromptStyle) -> ResolvedModel:
        manifest_key = run_manifest(run_id)
        if not self.store.exists(manifest_key):
            raise FileNotFoundError(f"run {run_id!r}: no {self.store.uri_for(manifest_key)}")
        manifest = self.store.get_json(manifest_key)
        adapter = self._download(
            run_prefix(run_id) + "adapter/", run_key(run_id, "adapter"), manifest
        )
        base = run_base_uri(manifest, self.cfg.training.base_model)
        spec = ModelSpec(f"run:{run_id}", base, str(adapter), prompt, self.cfg.evaluation.dtype)
        lineage = {"run_id": run_id, "base_model": base, "dataset": run_dataset(manifest)}
        if manifest.get("init_adapter"):  # warm-started: the version it continued from
            lineage["init_adapter"] = manifest["init_adapter"].get("ref")
        return ResolvedModel(f"run:{run_id}", "local", spec, lineage, dir_size(adapter))

    def _registry(self, ref: str, prompt: PromptStyle) -> ResolvedModel:
        mv = self.registry.resolve(ref)
        m, variant = mv.manifest, mv.manifest.get("variant", "adapter")
        local = self._download(mv.prefix, mv.prefix.rstrip("/"), m)  # the cache mirrors the key
        dtype = self.cfg.evaluation.dtype
        if variant == "adapter":
            base = run_base_uri(m, self.cfg.training.base_model)
            spec = ModelSpec(mv.ref, base, str(local / "adapter"), prompt, dtype)
            size = dir_size(local / "adapter")
        elif variant.startswith("gguf-"):
            # scored as served: llama.cpp where installed, transformers dequantising otherwise
            spec = ModelSpec(
                mv.ref, str(local / "model.gguf"), prompt=prompt, dtype=dtype, engine="auto"
            )
            size = dir_size(local / "model.gguf")
        else:  # master or nf4: a transformers directory
            quant = "nf4" if variant == "nf4" else None
            spec = ModelSpec(mv.ref, str(local / variant), None, prompt, dtype, quant)
            size = dir_size(local / variant)
        lineage = {
            "registry": mv.ref,
            "stage": mv.stage,
            "variant": variant,
            **m.get("lineage", {}),
        }
        return ResolvedModel(mv.ref, "local", spec, lineage, size)

    def _download(self, prefix: str, local: str, manifest: dict[str, Any]) -> Path:
        """A local copy of `prefix`, cached under the store and the manifest's identity.

        Versions and runs are immutable, so a finished copy stays valid, but only for that
        store and that version: another store (or the same one rebuilt by `mkd demo --fresh`)
        has its own `finance-student:1`, and reusing the first one's adapter was a real bug.
        """
        identity = json.dumps([self.store.uri, manifest], sort_keys=True, default=str)
        target = self.cache / local / hashlib.sha256(identity.encode()).hexdigest()[:16]
        done = target / ".complete"
        if not done.exists():
            self.store.get_dir(prefix, target)
            done.touch()
        return target

    def predictor(self, resolved: ResolvedModel, pack: TaskPack, config_given: bool = True):
        """The predictor for a resolved model (the teacher per config, or the reference one)."""
        if resolved.kind == "teacher":
            return TeacherPredictor(make_teacher_for(self.cfg, pack, config_given), pack)
        ev = self.cfg.evaluation
        return LocalPredictor(resolved.spec, pack, ev.batch_size, ev.max_new_tokens, ev.decoding)


def make_teacher_for(cfg: PipelineConfig, pack: TaskPack, config_given: bool) -> Any:
    """The configured teacher; without a config, the default pipeline's reference teacher."""
    if not config_given:
        from mkd.teachers.factory import make_reference_teacher

        return make_reference_teacher(pack)
    from mkd.teachers.factory import make_teacher

    return make_teacher(cfg.teacher, pack)


def _is_registry_ref(ref: str) -> bool:
    try:
        parse_ref(ref)
    except RegistryError:
        return False
    return True
