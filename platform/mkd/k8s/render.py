"""Render the MKD Helm chart offline (Helm's Go SDK through helm-python-sdk; no cluster needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from mkd.assets import chart_dir
from mkd.config.loader import deep_merge

# One RayJob per stage, in pipeline order (each a ray_jobs module), plus the whole pipeline.
STAGES = ("augment", "label", "dataset", "train", "evaluate", "export")
PIPELINE = "pipeline"
RAYJOBS = (*STAGES, PIPELINE)
# `eval` is what people type; the module is ray_jobs.evaluate.
STAGE_ALIASES = {"eval": "evaluate"}


def canonical_stage(stage: str) -> str:
    """The ray_jobs module of a chart RayJob (`eval` -> `evaluate`); ValueError if unknown."""
    name = STAGE_ALIASES.get(stage, stage)
    if name not in RAYJOBS:
        accepted = ", ".join([*RAYJOBS, *STAGE_ALIASES])
        raise ValueError(f"unknown stage {stage!r}; accepted: {accepted}")
    return name


def _helm():
    try:
        import helm_python
    except ImportError as exc:  # a dev/ops dependency, not needed by the pipeline itself
        raise RuntimeError(
            "rendering the chart needs helm-python-sdk: pip install helm-python-sdk"
        ) from exc
    return helm_python


def load_values(files: list[Path], sets: list[str] | None = None) -> dict[str, Any]:
    """Values from `-f` files then `--set key.path=value` strings, later ones winning (as helm does)."""
    values: dict[str, Any] = {}
    for path in files:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path}: a values file must be a mapping")
        values = deep_merge(values, data)
    for expression in sets or []:  # each --set is parsed on its own, as helm does
        values = deep_merge(values, _helm().parse_set_string(expression))
    return values


def render_chart(
    values: dict[str, Any] | None = None,
    *,
    chart: Path | None = None,
    release: str = "mkd",
    namespace: str = "default",
) -> dict[str, list[dict[str, Any]]]:
    """Render the chart; returns template path -> its Kubernetes objects (NOTES.txt left out).

    `chart` defaults to the chart shipped with mkd (`mkd.assets.chart_dir()`).

    Raises:
        helm_python.HelmValuesError: values refused by values.schema.json (the message names the key).
        FileNotFoundError: no chart at `chart`.
    """
    chart = chart_dir() if chart is None else Path(chart)
    if not (chart / "Chart.yaml").is_file():
        raise FileNotFoundError(f"no Helm chart at {chart} (expected {chart}/Chart.yaml)")
    h = _helm()
    with h.Chart.load(str(chart)) as loaded:
        rendered = loaded.render(values or {}, name=release, namespace=namespace)
    return {
        path: [doc for doc in yaml.safe_load_all(text) if doc]
        for path, text in sorted(rendered.items())
        if path.endswith((".yaml", ".yml"))
    }


def render_stage_job(
    stage: str,
    values: dict[str, Any] | None = None,
    *,
    chart: Path | None = None,
    release: str = "mkd",
    namespace: str = "default",
) -> dict[str, Any]:
    """The RayJob manifest of one stage, rendered with that stage enabled.

    The job mounts the release's ConfigMap (`<release>-mkd-config`): install the chart first, or
    apply the ConfigMap from `render_chart` beside it.
    """
    stage = canonical_stage(stage)
    chart = chart_dir() if chart is None else Path(chart)
    values = deep_merge(values or {}, {"jobs": {stage: {"enabled": True}}})
    docs = render_chart(values, chart=chart, release=release, namespace=namespace)
    jobs = docs.get(f"{Path(chart).name}/templates/rayjob-{stage}.yaml") or docs.get(
        f"mkd/templates/rayjob-{stage}.yaml", []
    )
    if len(jobs) != 1 or jobs[0].get("kind") != "RayJob":
        raise RuntimeError(f"the chart rendered no RayJob for stage {stage}")
    job = jobs[0]
    job.setdefault("metadata", {})["namespace"] = namespace
    return job


def to_yaml(obj: dict[str, Any]) -> str:
    """A manifest as YAML for `kubectl apply -f -` (key order kept)."""
    return yaml.safe_dump(obj, sort_keys=False, default_flow_style=False)
