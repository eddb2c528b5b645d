"""RayJobs per stage, GPU placement, security contexts and names of the rendered Ray pods."""

from __future__ import annotations

import pytest
from mkd.k8s.render import RAYJOBS, render_stage_job

from tests.helm.conftest import CHART, NAMESPACE, as_pods, objects_of


def _jobs(objects):
    return {o["metadata"]["labels"]["mkd.io/stage"]: o for o in objects if o["kind"] == "RayJob"}


def test_no_rayjob_is_rendered_unless_its_stage_is_enabled(render):
    assert not _jobs(objects_of(render()))
    assert set(_jobs(objects_of(render({"jobs": {"train": {"enabled": True}}})))) == {"train"}


def test_every_stage_runs_the_stage_runner_with_the_mounted_config(rendered_ci):
    jobs = _jobs(rendered_ci["gpu-prod.yaml"])
    assert set(jobs) == set(RAYJOBS)
    for stage, job in jobs.items():
        spec = job["spec"]
        assert spec["entrypoint"] == f"python -m mkd.stages {stage} -c /config/pipeline.yaml"
        assert spec["shutdownAfterJobFinishes"] is True and spec["ttlSecondsAfterFinished"] == 3600
        assert spec["submissionMode"] == "K8sJobMode"
        assert job["metadata"]["name"] == f"mkd-{stage}-r1"
        head = spec["rayClusterSpec"]["headGroupSpec"]["template"]["spec"]
        mounts = {m["mountPath"]: m["name"] for m in head["containers"][0]["volumeMounts"]}
        assert mounts["/config"] == "config"
        volume = next(v for v in head["volumes"] if v["name"] == "config")
        assert volume["configMap"]["name"] == "mkd-config"


def test_train_gets_a_gpu_worker_group_that_tolerates_the_gpu_taint(rendered_ci):
    train = _jobs(rendered_ci["gpu-prod.yaml"])["train"]
    (group,) = train["spec"]["rayClusterSpec"]["workerGroupSpecs"]
    assert group["groupName"] == "gpu" and group["replicas"] == 2
    pod = group["template"]["spec"]
    assert pod["nodeSelector"] == {"mkd.io/node-pool": "gpu"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod[
        "tolerations"
    ]
    resources = pod["containers"][0]["resources"]
    assert resources["limits"]["nvidia.com/gpu"] == resources["requests"]["nvidia.com/gpu"] == 1
    assert pod["containers"][0]["image"].endswith("-cuda-train")  # Unsloth, not vLLM


def test_cpu_dev_renders_no_gpu_anywhere(rendered_ci):
    for pod in as_pods(rendered_ci["cpu-dev.yaml"]):
        container = pod["spec"]["containers"][0]
        assert "nvidia.com/gpu" not in container["resources"]["limits"]
        assert "tolerations" not in pod["spec"] and "nodeSelector" not in pod["spec"]


@pytest.mark.parametrize("submission_mode", ["HTTPMode", "SidecarMode"])
def test_submitter_template_only_in_k8s_job_mode(render, submission_mode):
    values = {"jobs": {"submissionMode": submission_mode, "label": {"enabled": True}}}
    (job,) = _jobs(objects_of(render(values))).values()
    assert job["spec"]["submissionMode"] == submission_mode
    assert "submitterPodTemplate" not in job["spec"]


def test_every_ray_pod_runs_non_root_without_privilege_escalation(rendered_ci):
    for objects in rendered_ci.values():
        for pod in as_pods(objects):
            spec = pod["spec"]
            assert spec["securityContext"]["runAsNonRoot"] is True
            for container in spec["containers"]:
                sc = container["securityContext"]
                assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"]["drop"] == [
                    "ALL"
                ]
                assert sc["readOnlyRootFilesystem"] is True
                assert container["resources"]["requests"] and container["resources"]["limits"]
                # Ray writes only under these mounts, which keeps the root filesystem read-only.
                if container["name"] in ("ray-head", "ray-worker"):
                    paths = {m["mountPath"] for m in container["volumeMounts"]}
                    assert {"/tmp", "/home/ray/.cache", "/dev/shm"} <= paths


def test_only_the_autoscaling_head_mounts_the_api_token(rendered_ci):
    for objects in rendered_ci.values():
        for pod in as_pods(objects):
            name = pod["metadata"]["name"]
            serving_head = pod["metadata"]["labels"].get(
                "mkd.io/cluster"
            ) == "serve" and name.endswith("-head")
            if not serving_head:
                assert pod["spec"]["automountServiceAccountToken"] is False, name


def test_irsa_annotation_and_no_s3_keys(rendered_ci):
    objects = rendered_ci["gpu-prod.yaml"]
    account = next(  # the Ray pods' account (the pipeline schedule has its own, unannotated)
        o for o in objects if o["kind"] == "ServiceAccount" and o["metadata"]["name"] == "mkd"
    )
    assert account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].endswith(
        ":role/mkd-prod-pods"
    )
    for pod in as_pods(objects):
        names = {e["name"] for e in pod["spec"]["containers"][0].get("env", [])}
        assert not names & {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}


def test_long_release_names_stay_within_kuberay_limits(render):
    """Should cut RayService/RayJob names to 47 characters (KubeRay derives longer child names)."""
    release = "a-very-long-release-name-for-the-finance-distillation-platform"
    objects = objects_of(
        render({"jobs": {"runId": "2024-06-01", "train": {"enabled": True}}}, release=release)
    )
    for obj in objects:
        limit = 47 if obj["apiVersion"] == "ray.io/v1" else 63
        assert len(obj["metadata"]["name"]) <= limit, obj["metadata"]["name"]
        assert not obj["metadata"]["name"].endswith("-")
    job = next(o for o in objects if o["kind"] == "RayJob")
    assert job["metadata"]["name"].endswith("-train-2024-06-01")


def test_render_stage_job_gives_one_rayjob_for_kubectl(tmp_path):
    job = render_stage_job("eval", {"jobs": {"runId": "x1"}}, chart=CHART, namespace=NAMESPACE)
    assert job["kind"] == "RayJob" and job["metadata"]["name"] == "mkd-evaluate-x1"
    assert job["spec"]["entrypoint"].startswith("python -m mkd.stages evaluate ")
    with pytest.raises(ValueError, match="unknown stage 'augmentt'"):
        render_stage_job("augmentt", chart=CHART)
