"""checkov on the rendered manifests, with every accepted finding justified below.

checkov does not know ray.io kinds, so each Ray pod template is also scanned as a core/v1 Pod
(the pods KubeRay creates from it).
"""

from __future__ import annotations

import pytest
import yaml

from tests.helm.conftest import as_pods, run_checkov

# check id -> why the finding is accepted, and which resources it may apply to (None: any).
ACCEPTED = {
    # KubeRay injects liveness and readiness probes (Ray's health endpoints) into every Ray
    # container it creates; the submitter is a run-once Job pod for which probes mean nothing.
    "CKV_K8S_8": ("probes injected by KubeRay / run-once submitter", None),
    "CKV_K8S_9": ("probes injected by KubeRay / run-once submitter", None),
    # Images are pinned by release tag; a digest pin works through image.tag=<tag>@sha256:<digest>,
    # but this repository's CI has no published image digest to render with.
    "CKV_K8S_43": ("digest pin supported via image.tag, none exists in CI", None),
    # The Ray images run as the `ray` user (uid 1000) that owns /home/ray; a uid >= 10000 breaks
    # Ray's home directory. runAsNonRoot still holds.
    "CKV_K8S_40": ("Ray images run as uid 1000", None),
    # Tags are immutable; Always would re-pull multi-GB CUDA images at every worker scale-up.
    "CKV_K8S_15": ("immutable tags, IfNotPresent avoids multi-GB re-pulls", None),
    # The teacher client reads its key from the environment (TeacherConfig's ${VAR}); the value
    # still comes from a Secret via secretKeyRef, never from values.
    "CKV_K8S_35": ("teacher key from secretKeyRef, read as ${VAR}", None),
    # The Ray autoscaler sidecar on the serving head patches pods and the RayCluster through the
    # API, and the pipeline schedule creates RayJobs: those two (only) mount the token.
    "CKV_K8S_38": (
        "autoscaler on the serving head / pipeline schedule need the API token",
        lambda r: r in ("Pod.mkd-test.mkd-head", "CronJob.mkd-test.mkd-pipeline-schedule"),
    ),
}


@pytest.mark.slow
def test_checkov_finds_nothing_unexplained_in_rendered_manifests(rendered_ci, tmp_path):
    # One checkov run over every ci file's manifests (one file each): checkov starts slowly.
    for ci_file, objects in rendered_ci.items():
        core = [o for o in objects if o["apiVersion"] != "ray.io/v1"]
        (tmp_path / ci_file).write_text(yaml.safe_dump_all([*core, *as_pods(objects)]))
    failed = run_checkov(tmp_path, "kubernetes")
    unexplained = [
        f"{c['check_id']} {c['check_name']} on {c['resource']}"
        for c in failed
        if c["check_id"] not in ACCEPTED
        or (ACCEPTED[c["check_id"]][1] and not ACCEPTED[c["check_id"]][1](c["resource"]))
    ]
    assert not unexplained, "\n".join(unexplained)
