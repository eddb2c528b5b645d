"""configs/serve.yaml validates as one document; request checks name the problem."""

from __future__ import annotations

import pytest
import yaml
from mkd.serve.config import LimitArgs, RouterConfig
from mkd.serve.control import load_serve_config, mkd_app, validate_serve_config

from serving.app import AppArgsError, parse_args
from serving.protocol import ApiError, ErrorResponse, check_query

from .conftest import SERVE_YAML


def test_shipped_serve_config_validates_with_ray_and_mkd_schemas():
    config = load_serve_config(SERVE_YAML)
    app = mkd_app(config)
    assert app["import_path"] == "serving.app:build_app"
    assert parse_args(app["args"]).student.backend == "transformers"
    assert {d["name"] for d in app["deployments"]} == {"Router", "Student", "Teacher"}


def test_a_bad_router_user_config_is_named():
    config = yaml.safe_load(SERVE_YAML.read_text())
    mkd_app(config)["deployments"][0]["user_config"]["student_weight"] = 1.5
    with pytest.raises(ValueError, match="student_weight"):
        validate_serve_config(config)


def test_bad_args_list_every_problem_by_path():
    with pytest.raises(AppArgsError) as err:
        parse_args({"student": {"max_batch_size": 0, "backend": "onnx"}, "tasks": ["nope"]})
    message = str(err.value)
    assert "student.max_batch_size" in message and "student.backend" in message
    with pytest.raises(AppArgsError, match="unknown task"):
        parse_args({"tasks": ["nope"]})


def test_a_queue_cap_of_zero_is_refused_by_name():
    with pytest.raises(AppArgsError) as err:
        parse_args({"student": {"max_queued_requests": 0, "max_pending_answers": 0}})
    message = str(err.value)
    assert "student.max_queued_requests" in message and "student.max_pending_answers" in message
    assert "-1 (unbounded) or at least 1" in message


def test_router_config_rejects_unknown_keys():
    with pytest.raises(ValueError, match="weight"):
        RouterConfig.model_validate({"weight": 0.1})


LIMITS = LimitArgs(max_input_chars=10, max_context_keys=2, required_context=["as_of"])


@pytest.mark.parametrize(
    ("query", "context", "status", "needle"),
    [
        ("   ", {"as_of": "2026-01-15"}, 400, "input is empty"),
        ("x" * 11, {"as_of": "2026-01-15"}, 413, "limit is 10"),
        ("hi", None, 422, "context.as_of is required"),
        ("hi", {}, 422, "context.as_of is required"),
        ("hi", {"as_of": "2026-1-5"}, 422, "ISO date"),
        ("hi", {"as_of": "x", "a": 1, "b": 2}, 422, "3 keys"),
        ("hi", "2026", 422, "JSON object"),
    ],
)
def test_check_query_names_the_problem(query, context, status, needle):
    with pytest.raises(ApiError) as err:
        check_query(LIMITS, query, context)
    assert err.value.status == status and needle in err.value.message


def test_a_good_query_passes_and_errors_have_one_shape():
    check_query(LIMITS, "What is EBITDA?"[:10], {"as_of": "2026-01-15"})
    body = ErrorResponse.of(ApiError(401, "unauthorized", "missing bearer token")).model_dump()
    assert body == {
        "error": {
            "message": "missing bearer token",
            "type": "authentication_error",
            "code": "unauthorized",
            "param": None,
            "request_id": None,
        }
    }
    with_id = ErrorResponse.of(ApiError(502, "teacher_unavailable", "down"), "req-1").model_dump()
    assert with_id["error"]["request_id"] == "req-1"
    assert with_id["error"]["type"] == "server_error"
