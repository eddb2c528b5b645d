"""RayService and RayJob status through the Kubernetes API (the `kubernetes` client)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

GROUP, VERSION = "ray.io", "v1"


@dataclass
class ObjectStatus:
    """One ray.io object's state, summarised for people: what it is doing and whether it serves."""

    kind: str
    name: str
    state: str
    ready: bool | None
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def custom_objects_api(context: str | None = None):
    """A CustomObjectsApi from the kubeconfig (or the in-cluster service account)."""
    from kubernetes import client, config

    try:
        config.load_kube_config(context=context)
    except config.ConfigException:
        config.load_incluster_config()
    return client.CustomObjectsApi()


def _condition(obj: dict[str, Any], kind: str) -> dict[str, Any] | None:
    for cond in obj.get("status", {}).get("conditions", []) or []:
        if cond.get("type") == kind:
            return cond
    return None


def rayservice_status(obj: dict[str, Any]) -> ObjectStatus:
    """Ready condition, application states and any upgrade in progress of a RayService."""
    status = obj.get("status", {}) or {}
    ready_cond = _condition(obj, "Ready")
    upgrading = _condition(obj, "UpgradeInProgress")
    ready = None if ready_cond is None else ready_cond.get("status") == "True"
    apps = (status.get("activeServiceStatus") or {}).get("applicationStatuses") or {}
    parts = [f"app {name}: {app.get('status', '?')}" for name, app in sorted(apps.items())]
    for name, app in sorted(apps.items()):
        unhealthy = [
            f"{d}={s.get('status')}"
            for d, s in sorted((app.get("serveDeploymentStatuses") or {}).items())
            if s.get("status") != "HEALTHY"
        ]
        if unhealthy:
            parts.append(f"{name} unhealthy: {', '.join(unhealthy)}")
    if upgrading and upgrading.get("status") == "True":
        pending = (status.get("pendingServiceStatus") or {}).get("rayClusterName", "?")
        parts.append(f"upgrading to cluster {pending}")
    if ready_cond and not ready and ready_cond.get("message"):
        parts.append(ready_cond["message"])
    state = (ready_cond or {}).get("reason") or status.get("serviceStatus") or "Unknown"
    endpoints = status.get("numServeEndpoints")
    if endpoints is not None:
        parts.append(f"{endpoints} serve endpoint(s)")
    return ObjectStatus("RayService", obj["metadata"]["name"], state, ready, "; ".join(parts))


def rayjob_status(obj: dict[str, Any]) -> ObjectStatus:
    """Job and deployment status of a RayJob, with Ray's message when it failed."""
    status = obj.get("status", {}) or {}
    job = status.get("jobStatus") or "PENDING"
    deployment = status.get("jobDeploymentStatus") or "New"
    ready = True if job == "SUCCEEDED" else False if job in ("FAILED", "STOPPED") else None
    parts = [f"deployment {deployment}"]
    if status.get("rayClusterName"):
        parts.append(f"cluster {status['rayClusterName']}")
    if status.get("message") and job != "SUCCEEDED":
        parts.append(status["message"])
    stage = obj["metadata"].get("labels", {}).get("mkd.io/stage")
    name = obj["metadata"]["name"] + (f" ({stage})" if stage else "")
    return ObjectStatus("RayJob", name, job, ready, "; ".join(parts))


def cluster_status(api, namespace: str) -> list[ObjectStatus]:
    """Every RayService then every RayJob of `namespace`, each summarised."""
    out = []
    for plural, summarise in (("rayservices", rayservice_status), ("rayjobs", rayjob_status)):
        listing = api.list_namespaced_custom_object(GROUP, VERSION, namespace, plural)
        out += [summarise(item) for item in listing.get("items", [])]
    return out
