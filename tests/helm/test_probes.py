"""The serving head's probes: liveness on /healthz, readiness on /readyz (the Router's endpoints)."""

from __future__ import annotations

from tests.helm.conftest import objects_of, ray_pod_templates


def _containers(objects, kind: str) -> dict[str, dict]:
    out = {}
    for obj in objects:
        if obj["kind"] == kind:
            for group, template in ray_pod_templates(obj):
                out[f"{obj['metadata']['name']}/{group}"] = template["spec"]["containers"][0]
    return out


def test_the_serving_head_probes_liveness_and_readiness_separately(render) -> None:
    objects = objects_of(render({"jobs": {"train": {"enabled": True}}}))
    serve = _containers(objects, "RayService")
    head = next(c for name, c in serve.items() if name.endswith("/head"))
    assert head["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "serve"}
    assert head["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "serve"}
    assert head["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "serve"}
    assert head["readinessProbe"]["timeoutSeconds"] > 5  # /readyz's own checks take up to 5 s
    assert any(p["name"] == "serve" and p["containerPort"] == 8000 for p in head["ports"])
    # workers keep KubeRay's proxy probes; job clusters serve nothing
    others = [c for name, c in serve.items() if not name.endswith("/head")]
    others += list(_containers(objects, "RayJob").values())
    assert others and not any("readinessProbe" in c or "livenessProbe" in c for c in others)


def test_probes_can_be_left_to_kuberay(render) -> None:
    objects = objects_of(render({"serving": {"probes": {"enabled": False}}}))
    head = next(c for n, c in _containers(objects, "RayService").items() if n.endswith("/head"))
    assert not {"livenessProbe", "readinessProbe", "startupProbe"} & set(head)
