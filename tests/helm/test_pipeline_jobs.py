"""Every stage's RayJob, the pipeline RayJob and the optional schedule that re-creates it."""

from __future__ import annotations

import importlib.util
import re

import pytest
import yaml
from mkd.k8s.render import RAYJOBS, STAGES, render_stage_job
from mkd.pipeline.cluster import stage_names
from mkd.stages import STAGES as RUNNER_STAGES
from mkd.stages import stage_module

from tests.helm.conftest import CHART, NAMESPACE, objects_of

ALL_JOBS = {"jobs": {name: {"enabled": True} for name in RAYJOBS}}
SCHEDULED = {"jobs": {"pipeline": {"schedule": {"enabled": True}}}}
SCHEDULE_TEMPLATE = "mkd/templates/pipeline-schedule.yaml"


def _rayjobs(objects):
    return [o for o in objects if o["kind"] == "RayJob"]


def _scheduled_manifest(rendered) -> dict:
    """The RayJob the CronJob creates, as the pod reads it from its ConfigMap."""
    (cm,) = [o for o in rendered[SCHEDULE_TEMPLATE] if o["kind"] == "ConfigMap"]
    return yaml.safe_load(cm["data"]["rayjob.yaml"])


def _crd_errors(validator, obj) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in sorted(validator.iter_errors(obj), key=str)
    ]


def test_the_chart_has_a_rayjob_for_every_pipeline_stage():
    """Should chain without gaps: label needs augment's prompts, train needs dataset's splits."""
    assert [s for s in stage_names() if s != "review"] == list(STAGES)
    for name in RAYJOBS:
        assert (CHART / "templates" / f"rayjob-{name}.yaml").is_file(), name


@pytest.mark.parametrize("values", [{}, {"jobs": {"runId": "r7"}}], ids=["plain", "run-id"])
def test_every_rayjob_and_the_scheduled_one_validate_against_the_kuberay_crd(
    render, crd_validators, values
):
    from mkd.config.loader import deep_merge

    rendered = render(deep_merge(deep_merge(ALL_JOBS, SCHEDULED), values))
    jobs = [*_rayjobs(objects_of(rendered)), _scheduled_manifest(rendered)]
    assert len(jobs) == len(RAYJOBS) + 1
    for job in jobs:
        errors = _crd_errors(crd_validators["RayJob"], job)
        assert not errors, f"{job['metadata']}: " + "; ".join(errors[:5])


def test_every_entrypoint_names_a_stage_of_the_stage_runner(render):
    for job in _rayjobs(objects_of(render(ALL_JOBS))):
        match = re.fullmatch(
            r"python -m mkd\.stages (\w+) -c /config/pipeline\.yaml", job["spec"]["entrypoint"]
        )
        assert match, job["spec"]["entrypoint"]
        assert match.group(1) in RUNNER_STAGES, f"{match.group(1)} is no stage of mkd.stages"
        assert callable(getattr(stage_module(match.group(1)), "run", None))
        assert match.group(1) == job["metadata"]["labels"]["mkd.io/stage"]


def test_the_pipeline_job_gets_the_workers_of_every_stage(rendered_ci):
    job = next(
        o for o in rendered_ci["gpu-prod.yaml"] if o["metadata"]["name"] == "mkd-pipeline-r1"
    )
    groups = {
        g["groupName"]: g["replicas"] for g in job["spec"]["rayClusterSpec"]["workerGroupSpecs"]
    }
    assert groups == {"cpu": 4, "gpu": 2}
    assert job["spec"]["entrypoint"] == "python -m mkd.stages pipeline -c /config/pipeline.yaml"


def test_the_schedule_renders_only_when_enabled(render):
    assert SCHEDULE_TEMPLATE not in render() or not render()[SCHEDULE_TEMPLATE]
    off = objects_of(render({"jobs": {"pipeline": {"enabled": True}}}))
    assert not {"CronJob", "Role", "RoleBinding"} & {o["kind"] for o in off}
    on = render(SCHEDULED)[SCHEDULE_TEMPLATE]
    assert sorted(o["kind"] for o in on) == sorted(
        ["ConfigMap", "ServiceAccount", "Role", "RoleBinding", "CronJob"]
    )


def test_the_schedule_can_only_list_and_create_rayjobs_in_its_namespace(render):
    objects = {o["kind"]: o for o in render(SCHEDULED)[SCHEDULE_TEMPLATE]}
    assert objects["Role"]["rules"] == [
        {"apiGroups": ["ray.io"], "resources": ["rayjobs"], "verbs": ["list", "create"]}
    ]
    binding = objects["RoleBinding"]
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": objects["Role"]["metadata"]["name"]
    }  # fmt: skip
    account = objects["ServiceAccount"]["metadata"]["name"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account, "namespace": NAMESPACE}
    ]
    pod = objects["CronJob"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == account != "mkd"  # not the Ray pods' (IRSA) identity
    assert pod["automountServiceAccountToken"] is True
    (container,) = pod["containers"]
    assert container["command"][:3] == ["python", "-m", "mkd.k8s.schedule"]
    assert importlib.util.find_spec("mkd.k8s.schedule") is not None


def test_the_scheduled_manifest_is_the_pipeline_job_with_a_generated_name(render):
    rendered = render(
        {"jobs": {"runId": "r1", "pipeline": {"enabled": True, "schedule": {"enabled": True}}}}
    )
    scheduled = _scheduled_manifest(rendered)
    (job,) = _rayjobs(objects_of(rendered))
    assert scheduled["metadata"].pop("generateName") == "mkd-pipeline-"
    assert job["metadata"].pop("name") == "mkd-pipeline-r1"
    assert scheduled == job


def test_generated_names_stay_within_kuberay_limits(render):
    """Should leave room for the API server's 5 random characters under KubeRay's 47."""
    release = "a-very-long-release-name-for-the-finance-distillation-platform"
    rendered = render(SCHEDULED, release=release)
    prefix = _scheduled_manifest(rendered)["metadata"]["generateName"]
    assert prefix.endswith("-") and len(prefix) + 5 <= 47
    for obj in rendered[SCHEDULE_TEMPLATE]:
        assert len(obj["metadata"]["name"]) <= (52 if obj["kind"] == "CronJob" else 63)


@pytest.mark.parametrize("name", ["augment", "dataset", "pipeline"])
def test_render_stage_job_knows_the_new_jobs(name):
    job = render_stage_job(name, chart=CHART, namespace=NAMESPACE)
    assert job["spec"]["entrypoint"].startswith(f"python -m mkd.stages {name} ")
