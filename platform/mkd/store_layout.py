"""Every key of the artifact store, built in one place, and the one rule for "latest".

Keys are '/'-separated; a `*_prefix` ends with '/'. Each top-level area (mkd.storage.STORE_AREAS)
has its prefix constant here and nowhere else: tests/mkd/test_store_layout.py fails when a key
literal of an area appears in platform/, serving/ or ray_jobs/ outside this module.

    datasets/<name>/<version>/{train,val,test,test_new}.jsonl, manifest.json (written last)
    label-cache/<sha256>.json
    work/<dataset>/<version>/...            a build's intermediate files; imports/<stem>-<hash>/
    reviews/<dataset>/<version>/<file>.jsonl
    base-models/<digest[:16]>/{tokenizer/,manifest.json}
    runs/<run_id>/{adapter/,tokenizer/,config.yaml,...,manifest.json (written last)}
    evals/<id>/{report.{json,md,html},predictions/<role>.jsonl}
    registry/<name>/<version>/{claim.json,...,manifest.json (written last)}, registry/<name>/stages.json
    pipelines/<name>/state.json
    feedback/<pack>/<YYYY-MM-DD>/<HHMMSS>-<writer>-<seq>.jsonl
    loops/<pipeline>/<dataset>-<version>/report.{json,md,png}

"Latest": dataset and registry versions are ordered by their version number (natural order:
`v10` after `v9`, whenever each was built), among finished ones (those with a manifest). Runs and
evaluations have timestamp ids: the latest is the one finished last. Only the helpers in the
last section read the store, and only by listing it (and reading the manifests they order by).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mkd.storage import Store

DATASETS = "datasets/"
LABEL_CACHE = "label-cache/"
WORK = "work/"
REVIEWS = "reviews/"
BASE_MODELS = "base-models/"
RUNS = "runs/"
EVALS = "evals/"
REGISTRY = "registry/"
PIPELINES = "pipelines/"
FEEDBACK = "feedback/"
LOOPS = "loops/"
AREA_PREFIXES = (
    DATASETS, LABEL_CACHE, WORK, REVIEWS, BASE_MODELS, RUNS, EVALS, REGISTRY, PIPELINES,
    FEEDBACK, LOOPS,
)  # fmt: skip

MANIFEST = "manifest.json"  # the last file of a dataset version, run or registry version


# -- datasets ----------------------------------------------------------------------------------
def dataset_root(name: str) -> str:
    """Every version of dataset `name`."""
    return f"{DATASETS}{name}/"


def dataset_prefix(name: str, version: str) -> str:
    return f"{dataset_root(name)}{version}/"


def dataset_manifest(name: str, version: str) -> str:
    return dataset_prefix(name, version) + MANIFEST


def dataset_split(name: str, version: str, split: str) -> str:
    """A split's records: `train`, `val`, `test` or `test_new`."""
    return f"{dataset_prefix(name, version)}{split}.jsonl"


def dataset_ref_of(prefix: str) -> str:
    """`NAME/VERSION` of a dataset prefix (`datasets/NAME/VERSION/`); other text unchanged."""
    return prefix.removeprefix(DATASETS).strip("/")


# -- label cache -------------------------------------------------------------------------------
def label_cache_key(digest: str) -> str:
    return f"{LABEL_CACHE}{digest}.json"


def label_cache_digest(key: str) -> str:
    """The digest a label-cache key was built from."""
    return key.removeprefix(LABEL_CACHE).removesuffix(".json")


# -- a dataset build's work files and imported reviews -----------------------------------------
def work_prefix(dataset: str, version: str) -> str:
    """A build's intermediate files (prompts, labeled rows, quarantine, reports, review/)."""
    return f"{WORK}{dataset}/{version}/"


def imports_prefix(dataset: str, version: str) -> str:
    """Imported teacher logs (`mkd data import-logs`), one folder per import."""
    return f"{work_prefix(dataset, version)}imports/"


def reviews_prefix(dataset: str, version: str) -> str:
    return f"{REVIEWS}{dataset}/{version}/"


# -- base models -------------------------------------------------------------------------------
def base_model_key(digest: str, name: str) -> str:
    """`name` (manifest.json, tokenizer) of the base model whose weights hash to `digest`."""
    return f"{BASE_MODELS}{digest[:16]}/{name}"


# -- training runs -----------------------------------------------------------------------------
def run_prefix(run_id: str) -> str:
    return f"{RUNS}{run_id}/"


def run_key(run_id: str, name: str = "") -> str:
    """`name` inside the run (`adapter`, `config.yaml`, ...); the run folder without a name."""
    return f"{run_prefix(run_id)}{name}".rstrip("/")


def run_manifest(run_id: str) -> str:
    return run_key(run_id, MANIFEST)


def run_config(run_id: str) -> str:
    return run_key(run_id, "config.yaml")


# -- evaluation and export reports -------------------------------------------------------------
def eval_prefix(eval_id: str) -> str:
    return f"{EVALS}{eval_id}/"


def eval_report(eval_id: str, ext: str = "json") -> str:
    """report.json (written last), report.md, report.html."""
    return f"{eval_prefix(eval_id)}report.{ext}"


def eval_predictions(eval_id: str, role: str) -> str:
    """The predictions of `role` (student, teacher, ...) on the evaluated items."""
    return f"{eval_prefix(eval_id)}predictions/{role}.jsonl"


# -- the model registry ------------------------------------------------------------------------
def registry_model_prefix(name: str) -> str:
    return f"{REGISTRY}{name}/"


def version_prefix(name: str, version: int) -> str:
    return f"{registry_model_prefix(name)}{version}/"


def version_manifest(name: str, version: int) -> str:
    return version_prefix(name, version) + MANIFEST


def version_claim(name: str, version: int) -> str:
    """Taken put-if-absent before a version's files: the number is then this writer's."""
    return version_prefix(name, version) + "claim.json"


def registry_stages(name: str) -> str:
    """The stages of every version of `name`, changed only by compare-and-swap."""
    return f"{registry_model_prefix(name)}stages.json"


# -- pipelines, feedback, loops ----------------------------------------------------------------
def pipeline_state(name: str) -> str:
    return f"{PIPELINES}{name}/state.json"


def feedback_prefix(pack: str) -> str:
    return f"{FEEDBACK}{pack}/"


def feedback_key(pack: str, when: dt.datetime, writer: str, seq: int) -> str:
    return f"{feedback_prefix(pack)}{when:%Y-%m-%d}/{when:%H%M%S}-{writer}-{seq:06d}.jsonl"


def feedback_day(key: str) -> dt.date | None:
    """The day folder of a feedback key, or None for a key outside the layout."""
    parts = key.removeprefix(FEEDBACK).split("/")
    try:
        return dt.date.fromisoformat(parts[1]) if len(parts) == 3 else None
    except ValueError:
        return None


def loop_prefix(pipeline: str, dataset: str) -> str:
    """`mkd loop`'s report of `pipeline` on `dataset` (NAME/VERSION)."""
    return f"{LOOPS}{pipeline}/{dataset.replace('/', '-')}/"


# -- "latest" ----------------------------------------------------------------------------------
def version_order(version: str) -> tuple[tuple[int, int | str], ...]:
    """The sort key of a version name: digit runs compare as numbers ('v10' after 'v9')."""
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part) for part in re.findall(r"\d+|\D+", version)
    )


def finished_dataset_versions(store: Store, name: str) -> list[str]:
    """Versions of dataset `name` with a manifest, by version number (the latest last)."""
    found = {
        parts[2]
        for key in store.list(dataset_root(name))
        if len(parts := key.split("/")) == 4 and parts[3] == MANIFEST
    }
    return sorted(found, key=lambda v: (version_order(v), v))


def latest_dataset_version(store: Store, name: str) -> str:
    """The finished version of dataset `name` with the highest number; FileNotFoundError when
    there is none. Training and evaluation both resolve `latest` here."""
    versions = finished_dataset_versions(store, name)
    if not versions:
        raise FileNotFoundError(
            f"no finished dataset {name!r} under {store.uri_for(dataset_root(name))}"
        )
    return versions[-1]


def registry_names(store: Store) -> list[str]:
    """Every model name with at least one finished version."""
    return sorted({k.split("/")[1] for k in store.list(REGISTRY) if k.endswith("/" + MANIFEST)})


def claimed_registry_versions(store: Store, name: str) -> set[int]:
    """Every version number of `name` holding any file (finished, failed or in progress)."""
    return {
        int(parts[2])
        for key in store.list(registry_model_prefix(name))
        if len(parts := key.split("/")) >= 4 and parts[2].isdigit()
    }


def finished_registry_versions(store: Store, name: str) -> list[int]:
    """Versions of `name` with a manifest, by number (the latest last)."""
    return sorted(
        int(parts[2])
        for key in store.list(registry_model_prefix(name))
        if len(parts := key.split("/")) == 4 and parts[3] == MANIFEST and parts[2].isdigit()
    )


def latest_run(store: Store) -> str:
    """The training run finished last (a run is finished once it has a manifest)."""
    runs = []
    for key in store.list(RUNS):
        parts = key.split("/")
        if len(parts) == 3 and parts[2] == MANIFEST:
            manifest = store.get_json(key)
            stamp = str(manifest.get("finished_at") or manifest.get("created_at") or "")
            runs.append((stamp, parts[1]))
    if not runs:
        raise FileNotFoundError(
            f"no finished training run in {store.uri_for(RUNS)} (run mkd train)"
        )
    return max(runs)[1]


def latest_unfinished_run(store: Store) -> str | None:
    """The newest run (ids are `<pipeline>-<UTC time>-<random>`) with a config but no manifest:
    one that was interrupted and can resume."""
    keys = set(store.list(RUNS))
    runs = {key.split("/")[1] for key in keys if key.count("/") >= 2}
    unfinished = [r for r in runs if run_config(r) in keys and run_manifest(r) not in keys]
    return max(unfinished) if unfinished else None


def latest_eval_id(store: Store) -> str | None:
    """The evaluation (not export) report created last that is finished (report.json is written
    last); None when there is none."""
    found = []
    for key in store.list(EVALS):
        parts = key.split("/")
        if len(parts) == 3 and parts[2] == "report.json":
            report = store.get_json(key)
            if report.get("kind") == "evaluation":
                found.append((report.get("created_at", ""), parts[1]))
    return max(found)[1] if found else None
