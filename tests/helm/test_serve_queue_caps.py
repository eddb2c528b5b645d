"""The Student's queue caps (issue 20 item 4): the chart's values reach the Serve args, the
schema refuses what Serve or AppArgs would refuse at deploy time."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml
from mkd.serve.config import AppArgs

from tests.helm.conftest import CHART, objects_of


def _student(objects: list[dict]):
    rayservice = next(o for o in objects if o["kind"] == "RayService")
    (app,) = yaml.safe_load(rayservice["spec"]["serveConfigV2"])["applications"]
    return AppArgs.model_validate(app["args"]).student


def _student_schema() -> dict:
    schema = json.loads((CHART / "values.schema.json").read_text())
    return schema["properties"]["serving"]["properties"]["student"]


def test_should_leave_the_pending_cap_to_the_builders_rule_when_null(render):
    student = _student(objects_of(render()))
    assert student.max_pending_answers is None and student.max_queued_requests == 64


def test_should_pass_the_pending_and_queue_caps_when_set(render):
    values = {"serving": {"student": {"maxPendingAnswers": 24, "maxQueuedRequests": 8}}}
    student = _student(objects_of(render(values=values)))
    assert (student.max_pending_answers, student.max_queued_requests) == (24, 8)


@pytest.mark.parametrize("key", ["maxPendingAnswers", "maxQueuedRequests"])
def test_should_refuse_a_cap_of_zero_in_the_values_schema(key):
    node = _student_schema()["properties"][key]
    jsonschema.validate(-1, node)
    jsonschema.validate(16, node)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(0, node)
