"""Fixtures for the chart tests: real Helm (helm-python-sdk embeds Helm's Go SDK), KubeRay CRD schemas."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from mkd.assets import chart_dir
from mkd.k8s.render import load_values, render_chart

CHART = chart_dir()
CI_VALUES = sorted((CHART / "ci").glob("*.yaml"))
CRDS = Path(__file__).parent / "crds"
NAMESPACE = "mkd-test"

Objects = list[dict[str, Any]]


def objects_of(rendered: dict[str, Objects]) -> Objects:
    """Every rendered Kubernetes object, in template order."""
    return [obj for objs in rendered.values() for obj in objs]


def ray_pod_templates(obj: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(group name, pod template) of a RayService or RayJob: head, worker groups, submitter."""
    spec = obj["spec"]
    cluster = spec.get("rayClusterConfig") or spec.get("rayClusterSpec")
    yield "head", cluster["headGroupSpec"]["template"]
    for group in cluster.get("workerGroupSpecs", []):
        yield group["groupName"], group["template"]
    if "submitterPodTemplate" in spec:
        yield "submitter", spec["submitterPodTemplate"]


def as_pods(objects: Objects) -> Objects:
    """Each Ray pod template as a plain core/v1 Pod, so that core-schema and checkov checks reach
    the pods KubeRay will create (neither tool understands ray.io kinds)."""
    pods = []
    for obj in objects:
        if obj["apiVersion"] != "ray.io/v1":
            continue
        for group, template in ray_pod_templates(obj):
            meta = {**template.get("metadata", {}), "name": f"{obj['metadata']['name']}-{group}"}
            meta["namespace"] = obj["metadata"]["namespace"]
            pods.append(
                {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": template["spec"]}
            )
    return pods


def _strict(schema: Any) -> Any:
    """The CRD schema as the API server applies it with strict field validation: an object that
    lists its properties refuses unknown ones unless it preserves unknown fields."""
    if isinstance(schema, list):
        return [_strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _strict(v) for k, v in schema.items()}
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


@pytest.fixture(scope="session")
def crd_validators() -> dict[str, jsonschema.Draft7Validator]:
    """kind -> validator of KubeRay v1.7.0's ray.io/v1 openAPIV3Schema (copied into tests/helm/crds)."""
    validators = {}
    for path in CRDS.glob("ray.io_*.v1.json"):
        crd = json.loads(path.read_text())
        validators[crd["kind"]] = jsonschema.Draft7Validator(_strict(crd["openAPIV3Schema"]))
    return validators


@pytest.fixture(scope="session")
def render() -> Callable[..., dict[str, Objects]]:
    """Render the chart with values (a dict) and/or values files, as `helm template -f ...` would."""

    def _render(
        values: dict[str, Any] | None = None, files: list[Path] = (), release: str = "mkd"
    ) -> dict[str, Objects]:
        merged = load_values(list(files))
        if values:
            from mkd.config.loader import deep_merge

            merged = deep_merge(merged, values)
        return render_chart(merged, chart=CHART, release=release, namespace=NAMESPACE)

    return _render


@pytest.fixture(scope="session")
def rendered_ci(render) -> dict[str, Objects]:
    """ci file name -> every object that file renders (rendered once per session)."""
    return {path.name: objects_of(render(files=[path])) for path in CI_VALUES}


CHECKOV = Path(__file__).parents[2] / ".tools" / "checkov" / "bin" / "checkov"


def run_checkov(target: Path, framework: str) -> list[dict[str, Any]]:
    """Failed checks of checkov (its own venv, .tools/checkov: it downgrades the project's deps).

    --skip-download keeps it offline (no Prisma Cloud guideline download).
    """
    import subprocess

    if not CHECKOV.exists():
        pytest.skip(f"checkov not installed at {CHECKOV}: run scripts/setup.sh")
    flag = "-d" if target.is_dir() else "-f"
    result = subprocess.run(
        [str(CHECKOV), flag, str(target), "--framework", framework, "--quiet", "--compact",
         "--skip-download", "-o", "json"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    if result.returncode not in (0, 1) or not result.stdout.strip():
        raise RuntimeError(f"checkov failed ({result.returncode}): {result.stderr[-2000:]}")
    report = json.loads(result.stdout)
    reports = report if isinstance(report, list) else [report]
    return [c for r in reports for c in r.get("results", {}).get("failed_checks", [])]
