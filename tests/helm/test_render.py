"""The chart renders for every ci/*.yaml and every object is valid (core schemas, KubeRay CRDs).

Helm here is the real Go SDK (helm-python-sdk); no Kubernetes API server can run on this machine,
so validity is checked against the published schemas instead of a dry-run apply.
"""

from __future__ import annotations

import helm_python as h
import kubernetes_validate
import pytest
import yaml

from tests.helm.conftest import CHART, CI_VALUES, NAMESPACE, as_pods, objects_of

K8S_VERSION = "1.33.0"  # a version inside Chart.yaml's kubeVersion range, in kubernetes-validate
PROMETHEUS_KINDS = {
    "PodMonitor",
    "ServiceMonitor",
    "PrometheusRule",
}  # CRDs of the Prometheus Operator: no schema here


def test_ci_value_sets_cover_the_documented_profiles():
    assert {p.stem for p in CI_VALUES} >= {"cpu-dev", "gpu-prod", "shadow", "canary"}


def test_chart_lints_clean_with_defaults_and_every_ci_file():
    for values in [{}, *(yaml.safe_load(p.read_text()) for p in CI_VALUES)]:
        report = h.lint(str(CHART), values, strict=True, namespace=NAMESPACE)
        # severity 1 is INFO ("icon is recommended"): the project has no icon to point at.
        serious = [m for m in report["messages"] if m["severity"] > 1]
        assert not report["errors"] and not serious, report


@pytest.mark.parametrize("ci_file", [p.name for p in CI_VALUES])
def test_core_objects_validate_against_kubernetes_schemas(rendered_ci, ci_file):
    objects = rendered_ci[ci_file]
    core = [
        o for o in objects if o["apiVersion"] != "ray.io/v1" and o["kind"] not in PROMETHEUS_KINDS
    ]
    assert {o["kind"] for o in core} >= {"ConfigMap", "ServiceAccount", "NetworkPolicy"}
    # The pod templates inside RayService/RayJob become real Pods: validate them as core/v1 Pods too.
    for obj in [*core, *as_pods(objects)]:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)


@pytest.mark.parametrize("ci_file", [p.name for p in CI_VALUES])
def test_ray_objects_validate_against_kuberay_crds(rendered_ci, crd_validators, ci_file):
    ray_objects = [o for o in rendered_ci[ci_file] if o["apiVersion"] == "ray.io/v1"]
    assert ray_objects
    for obj in ray_objects:
        errors = sorted(crd_validators[obj["kind"]].iter_errors(obj), key=str)
        assert not errors, f"{obj['kind']} {obj['metadata']['name']}: " + "; ".join(
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:5]
        )


def test_crd_validation_catches_a_misspelled_field(crd_validators, render):
    """Should refuse unknown fields when a template misspells one (the strict check works)."""
    rayservice = next(o for o in objects_of(render()) if o["kind"] == "RayService")
    assert not list(crd_validators["RayService"].iter_errors(rayservice))
    head = rayservice["spec"]["rayClusterConfig"]["headGroupSpec"]
    head["rayStartParam"] = {}
    errors = list(crd_validators["RayService"].iter_errors(rayservice))
    assert errors and "rayStartParam" in errors[0].message
    del head["rayStartParam"]
    head["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"] = "two"
    assert list(crd_validators["RayService"].iter_errors(rayservice))


def test_every_object_is_namespaced_and_labelled(rendered_ci):
    for objects in rendered_ci.values():
        for obj in objects:
            meta = obj["metadata"]
            assert meta["namespace"] == NAMESPACE, obj["kind"]
            assert meta["labels"]["app.kubernetes.io/instance"] == "mkd"
            assert len(meta["name"]) <= 63


def test_prometheus_monitors_select_the_ray_pods(rendered_ci):
    """Should scrape the `metrics` port of pods the chart labels when monitoring is on (gpu-prod)."""
    objects = rendered_ci["gpu-prod.yaml"]
    monitor = next(o for o in objects if o["kind"] == "PodMonitor")
    selector = monitor["spec"]["selector"]["matchLabels"]
    pods = as_pods(objects)
    assert all(selector.items() <= p["metadata"]["labels"].items() for p in pods)
    ray_pods = [p for p in pods if not p["metadata"]["name"].endswith("submitter")]
    for pod in ray_pods:
        ports = {port["name"] for port in pod["spec"]["containers"][0]["ports"]}
        assert "metrics" in ports
    assert monitor["spec"]["podMetricsEndpoints"][0]["port"] == "metrics"
    assert any(o["kind"] == "ServiceMonitor" for o in objects)
