"""mkd.k8s.schedule: the pipeline CronJob creates a RayJob only when no pipeline run is going."""

from __future__ import annotations

from typing import Any

import yaml
from mkd.k8s.schedule import main, selector_for, submit_if_idle

MANIFEST = {
    "apiVersion": "ray.io/v1",
    "kind": "RayJob",
    "metadata": {
        "generateName": "mkd-pipeline-",
        "namespace": "mkd",
        "labels": {"app.kubernetes.io/instance": "mkd", "mkd.io/stage": "pipeline", "x": "y"},
    },
    "spec": {"entrypoint": "python -m ray_jobs.pipeline -c /config/pipeline.yaml"},
}


class FakeApi:
    """CustomObjectsApi's list/create over a list of RayJobs (no cluster, no HTTP)."""

    def __init__(self, *statuses: str | None) -> None:
        self.items = [
            {"metadata": {"name": f"mkd-pipeline-{i}"}, "status": {"jobDeploymentStatus": s} if s else {}}
            for i, s in enumerate(statuses)
        ]  # fmt: skip
        self.calls: list[tuple[str, Any]] = []

    def list_namespaced_custom_object(self, group, version, namespace, plural, **kw):
        self.calls.append(("list", (group, version, namespace, plural, kw["label_selector"])))
        return {"items": self.items}

    def create_namespaced_custom_object(self, group, version, namespace, plural, body):
        self.calls.append(("create", (group, version, namespace, plural)))
        return {**body, "metadata": {**body["metadata"], "name": body["metadata"]["generateName"] + "abcde"}}  # fmt: skip


def test_selector_is_this_releases_pipeline_runs():
    assert selector_for(MANIFEST) == "app.kubernetes.io/instance=mkd,mkd.io/stage=pipeline"


def test_creates_when_every_earlier_run_finished():
    api = FakeApi("Complete", "Failed", "ValidationFailed")
    assert submit_if_idle(api, MANIFEST) == "mkd-pipeline-abcde"
    assert api.calls == [
        ("list", ("ray.io", "v1", "mkd", "rayjobs", selector_for(MANIFEST))),
        ("create", ("ray.io", "v1", "mkd", "rayjobs")),
    ]


def test_skips_while_a_run_is_going_or_just_created():
    for status in ("Running", "Initializing", None):  # None: created, no status yet
        api = FakeApi("Complete", status)
        assert submit_if_idle(api, MANIFEST) is None
        assert [c[0] for c in api.calls] == ["list"]


def test_main_reads_the_mounted_manifest(tmp_path, capsys):
    path = tmp_path / "rayjob.yaml"
    path.write_text(yaml.safe_dump(MANIFEST))
    assert main(["--manifest", str(path)], api=FakeApi()) == 0
    assert "created RayJob mkd-pipeline-abcde" in capsys.readouterr().out
    assert main(["--manifest", str(path)], api=FakeApi("Running")) == 0  # a skip is no failure
    assert "skipped" in capsys.readouterr().out
