"""Issue 17: the Serve args carry the RayJobs' store, every model reference in the chart's ci
values and the docs follows the registry's grammar, and the Student's gate switches follow the
rollout values."""

from __future__ import annotations

import json
import re
from pathlib import Path

import helm_python as h
import pytest
import yaml
from mkd.config.loader import parse_config
from mkd.registry import PINNED_REF_PATTERN, RegistryError, parse_ref
from mkd.serve.config import AppArgs

from tests.helm.conftest import CHART, CI_VALUES, objects_of

ROOT = Path(__file__).parents[2]
DOCS = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md", CHART / "README.md"]
# A registry model name (the pipeline registers NAME-student) followed by :VERSION or @STAGE.
DOC_REF = re.compile(r"\b[A-Za-z0-9][\w.-]*-student[@:][\w.-]*\w")


def _app(objects: list[dict]) -> dict:
    rayservice = next(o for o in objects if o["kind"] == "RayService")
    (app,) = yaml.safe_load(rayservice["spec"]["serveConfigV2"])["applications"]
    return app


def _pipeline(objects: list[dict]) -> dict:
    configmap = next(o for o in objects if o["kind"] == "ConfigMap")
    return yaml.safe_load(configmap["data"]["pipeline.yaml"])


@pytest.mark.parametrize("ci_file", [p.name for p in CI_VALUES])
def test_serve_args_carry_the_store_the_rayjobs_use(rendered_ci, ci_file, monkeypatch):
    """Should give the Student the same store as the RayJobs' pipeline config, with no keys."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    objects = rendered_ci[ci_file]
    args = AppArgs.model_validate(_app(objects)["args"])
    jobs = parse_config(_pipeline(objects), ci_file).store
    values = yaml.safe_load((CHART / "ci" / ci_file).read_text())
    assert args.store == jobs
    assert args.store.uri.startswith(f"s3://{values['store']['bucket']}")
    assert args.store.s3.region == values["store"].get("region", "us-east-1")
    assert args.store.s3.endpoint_url == (values["store"].get("endpointUrl") or None)
    assert args.store.s3.access_key_id is None and args.store.s3.secret_access_key is None


def test_serve_store_follows_endpoint_and_pipeline_overrides(render):
    values = {
        "store": {"bucket": "other-bucket", "prefix": "p/q", "region": "eu-central-1",
                  "endpointUrl": "http://seaweedfs:8333"},
        "pipeline": {"store": {"s3": {"multipart_threshold_mb": 64}}},
    }  # fmt: skip
    objects = objects_of(render(values=values))
    store = AppArgs.model_validate(_app(objects)["args"]).store
    assert store.uri == "s3://other-bucket/p/q"
    assert (store.s3.region, store.s3.endpoint_url) == ("eu-central-1", "http://seaweedfs:8333")
    assert store.s3.multipart_threshold_mb == 64
    assert _pipeline(objects)["store"] == store.model_dump(exclude_defaults=True)


@pytest.mark.parametrize(
    ("ci_file", "shadow_only"),
    [("shadow.yaml", True), ("canary.yaml", False), ("cpu-dev.yaml", True)],
)
def test_student_is_shadow_only_exactly_when_the_router_gives_it_no_traffic(
    rendered_ci, ci_file, shadow_only
):
    student = AppArgs.model_validate(_app(rendered_ci[ci_file])["args"]).student
    assert student.shadow_only is shadow_only and student.allow_unpromoted is False


@pytest.mark.parametrize(
    ("rollout", "shadow_only"),
    [
        ({"mode": "split", "student_weight": 0}, True),
        ({"mode": "shadow", "student_weight": 0.5}, True),
        ({"mode": "split", "student_weight": "0.05"}, False),
        ({"task_overrides": {"query_classifier": {"mode": "split", "student_weight": 0.2}}}, False),
        ({"mode": "split", "student_weight": 0.1,
          "task_overrides": {"query_classifier": {"student_weight": 0}}}, False),
    ],
)  # fmt: skip
def test_shadow_only_is_derived_from_the_rollout_values(render, rollout, shadow_only):
    values = {"serving": {"rollout": rollout, "student": {"allowUnpromoted": True}}}
    student = AppArgs.model_validate(_app(objects_of(render(values=values)))["args"]).student
    assert student.shadow_only is shadow_only and student.allow_unpromoted is True


def test_values_schema_pattern_is_the_registry_grammar():
    schema = json.loads((CHART / "values.schema.json").read_text())
    version = schema["properties"]["serving"]["properties"]["student"]["properties"]["version"]
    assert version["pattern"] == f"^$|{PINNED_REF_PATTERN}"


@pytest.mark.parametrize("bad", ["finance-student@3", "finance-student@prod", "finance-student"])
def test_values_schema_refuses_a_reference_outside_the_grammar(bad):
    with h.Chart.load(str(CHART)) as chart, pytest.raises(h.HelmValuesError) as err:
        chart.render({"serving": {"student": {"version": bad}}}, name="mkd", namespace="t")
    assert "/serving/student/version" in str(err.value)
    assert "does not match pattern" in str(err.value)


@pytest.mark.parametrize("ci_file", [p.name for p in CI_VALUES])
def test_every_ci_values_model_reference_parses(rendered_ci, ci_file):
    version = _app(rendered_ci[ci_file])["args"]["student"].get("version")
    if version:
        assert parse_ref(version, pinned=True).pinned
    text = (CHART / "ci" / ci_file).read_text()
    for ref in DOC_REF.findall(text):
        parse_ref(ref, pinned=True)


def test_every_model_reference_in_the_docs_parses():
    found = {}
    for path in DOCS:
        for ref in DOC_REF.findall(path.read_text()):
            found.setdefault(ref, path.name)
    assert "finance-student@production" in found and "finance-student:3" in found
    bad = {}
    for ref, where in found.items():
        try:
            parse_ref(ref, pinned=True)
        except RegistryError as exc:
            bad[ref] = f"{where}: {exc}"
    assert not bad, bad


def test_chart_default_engine_is_the_one_chart_e2e_deploys(render, rendered_ci):
    """The chart's default Student engine is the CPU decoder that test_chart_e2e runs (it renders
    ci/cpu-dev.yaml, which keeps the default); vLLM stays selectable through ci/gpu-prod.yaml."""
    student = _app(objects_of(render()))["args"]["student"]
    assert student["backend"] == "transformers" and student["dtype"] == "auto"
    assert not student["ray_actor_options"].get("num_gpus"), student["ray_actor_options"]
    cpu_dev = yaml.safe_load((CHART / "ci" / "cpu-dev.yaml").read_text())["serving"]["student"]
    assert "backend" not in cpu_dev and "dtype" not in cpu_dev
    gpu = _app(rendered_ci["gpu-prod.yaml"])["args"]["student"]
    assert (gpu["backend"], gpu["dtype"]) == ("vllm", "bfloat16")
    assert gpu["ray_actor_options"]["num_gpus"] == 1


def test_cpu_dev_asks_no_deployment_for_a_gpu(rendered_ci):
    """Helm merges maps: cpu-dev's rayActorOptions must delete the default's num_gpus, or the
    Student waits forever for a GPU that a CPU-only cluster never has."""
    args = _app(rendered_ci["cpu-dev.yaml"])["args"]
    for options in (args["student"], args["teacher"], args["router"]):
        assert not options["ray_actor_options"].get("num_gpus"), options
