"""What the chart's pipeline CronJob runs: create the pipeline RayJob unless one is still running.

    python -m mkd.k8s.schedule --manifest /manifest/rayjob.yaml

The manifest (a ConfigMap the chart renders from the same template as the pipeline RayJob) has
`metadata.generateName`, so each tick creates a new RayJob. The CronJob's concurrencyPolicy
cannot see RayJobs (its own Job ends as soon as the RayJob is created), so the overlap check is
here: two pipelines at once would race on pipelines/<name>/state.json in the store.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Protocol

import yaml

GROUP, VERSION, PLURAL = "ray.io", "v1", "rayjobs"
# KubeRay's jobDeploymentStatus values after which a RayJob no longer runs anything.
FINISHED = {"Complete", "Failed", "ValidationFailed"}
# The labels that identify "a pipeline run of this release" (set by the chart on every RayJob).
SELECTOR_LABELS = ("app.kubernetes.io/instance", "mkd.io/stage")


class RayJobsApi(Protocol):
    """The two calls of kubernetes.client.CustomObjectsApi used here (a fake in the tests)."""

    def list_namespaced_custom_object(self, group: str, version: str, namespace: str, plural: str, **kw: Any) -> dict[str, Any]: ...  # fmt: skip
    def create_namespaced_custom_object(self, group: str, version: str, namespace: str, plural: str, body: dict[str, Any]) -> dict[str, Any]: ...  # fmt: skip


def selector_for(manifest: dict[str, Any]) -> str:
    """`instance=<release>,mkd.io/stage=pipeline`: the RayJobs that count as a running pipeline."""
    labels = manifest["metadata"].get("labels") or {}
    return ",".join(f"{key}={labels[key]}" for key in SELECTOR_LABELS if key in labels)


def running(api: RayJobsApi, namespace: str, selector: str) -> list[str]:
    """Names of the selected RayJobs that have not finished (a new one has no status yet)."""
    listed = api.list_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, label_selector=selector
    )
    return [
        item["metadata"]["name"]
        for item in listed.get("items", [])
        if (item.get("status") or {}).get("jobDeploymentStatus") not in FINISHED
    ]


def submit_if_idle(api: RayJobsApi, manifest: dict[str, Any]) -> str | None:
    """Create the RayJob and return its name, or None when a pipeline run is still going."""
    namespace = manifest["metadata"]["namespace"]
    busy = running(api, namespace, selector_for(manifest))
    if busy:
        return None
    created = api.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, manifest)
    return created["metadata"]["name"]


def main(argv: list[str] | None = None, api: RayJobsApi | None = None) -> int:
    parser = argparse.ArgumentParser(description="Create the pipeline RayJob unless one runs.")
    parser.add_argument("--manifest", type=Path, required=True, help="RayJob YAML to create")
    args = parser.parse_args(argv)
    manifest = yaml.safe_load(args.manifest.read_text(encoding="utf-8"))
    if api is None:
        from mkd.k8s.status import custom_objects_api

        api = custom_objects_api()
    name = submit_if_idle(api, manifest)
    if name is None:
        # Skipping is success: the running pipeline covers this tick, and the next tick retries.
        print(f"a pipeline RayJob is still running ({selector_for(manifest)}); skipped")
    else:
        print(f"created RayJob {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
