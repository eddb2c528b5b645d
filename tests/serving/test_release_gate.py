"""Gates at deploy: the Student's start, the Serve args' model reference and the routing that
decides whether a version must have passed its gates (issue 17)."""

from __future__ import annotations

import pytest
from mkd.config.store import StoreConfig
from mkd.registry import Registry
from mkd.release import GatesNotPassed
from mkd.serve.config import RouterConfig, StudentArgs
from mkd.serve.release_gate import check_student_version, initial_router_config, mark_shadow_only
from mkd.storage import open_store
from pydantic import ValidationError

from serving.student import resolve_source

FAILED = {"passed": False, "failed": ["date_interpretation/agreement", "entity_extractor/items"]}


@pytest.fixture
def store(tmp_path) -> StoreConfig:
    """finance-student:1 passed its gates, :2 failed two, :3 was never evaluated (no files)."""
    config = StoreConfig(uri=f"file://{tmp_path}/store")
    registry = Registry(open_store(config))
    registry.register("finance-student", {"gates": {"passed": True, "failed": []}})
    registry.register("finance-student", {"gates": FAILED}, stage="rejected")
    registry.register("finance-student", {})
    return config


def test_the_student_refuses_a_failed_version_naming_its_gates(store):
    with pytest.raises(GatesNotPassed) as err:
        resolve_source(StudentArgs(version="finance-student:2"), store)
    message = str(err.value)
    assert "finance-student:2 failed its gates" in message
    assert "date_interpretation/agreement, entity_extractor/items" in message
    assert "allow_unpromoted" in message and "allowUnpromoted" in message


def test_the_student_refuses_a_version_without_gate_results(store):
    with pytest.raises(GatesNotPassed, match="finance-student:3 has no gate results"):
        resolve_source(StudentArgs(version="finance-student:3"), store)


@pytest.mark.parametrize(
    "switch", [{"shadow_only": True}, {"allow_unpromoted": True}], ids=["shadow", "forced"]
)
def test_shadow_or_force_lets_the_student_load_any_version(store, switch):
    """Past the gate check it goes on to the files (none here): a different error."""
    with pytest.raises(ValueError, match="has no gguf, master/ or adapter/ files") as err:
        resolve_source(StudentArgs(version="finance-student:2", **switch), store)
    assert not isinstance(err.value, GatesNotPassed)


def test_a_passed_version_needs_no_switch(store):
    with pytest.raises(ValueError, match="has no gguf") as err:
        resolve_source(StudentArgs(version="finance-student:1"), store)
    assert not isinstance(err.value, GatesNotPassed)


@pytest.mark.parametrize("bad", ["finance-student@3", "finance-student@prod", "finance-student"])
def test_student_version_outside_the_grammar_is_refused_naming_the_forms(bad):
    with pytest.raises(ValidationError) as err:
        StudentArgs(version=bad)
    text = str(err.value)
    assert "version" in text
    assert "NAME:VERSION" in text and "NAME@STAGE" in text


@pytest.mark.parametrize(
    ("live", "tasks", "takes"),
    [
        ({}, None, False),
        ({"mode": "split", "student_weight": 0.0}, None, False),
        ({"mode": "shadow", "student_weight": 0.5}, None, False),
        ({"mode": "split", "student_weight": 0.05}, None, True),
        ({"task_overrides": {"query_classifier": {"mode": "split", "student_weight": 0.2}}},
         None, True),
        ({"task_overrides": {"query_classifier": {"mode": "split", "student_weight": 0.2}}},
         ["entity_extractor"], False),
        ({"mode": "split", "student_weight": 0.1,
          "task_overrides": {"query_classifier": {"mode": "shadow"}}}, ["query_classifier"], False),
    ],
)  # fmt: skip
def test_student_takes_traffic_only_in_split_mode_above_weight_0(live, tasks, takes):
    assert RouterConfig.model_validate(live).student_takes_traffic(tasks) is takes


def _app(store: StoreConfig, version: str, **router: object) -> dict:
    return {
        "name": "mkd",
        "args": {"student": {"version": version}, "store": store.model_dump(mode="json")},
        "deployments": [{"name": "Router", "user_config": router}],
    }


def test_serve_config_check_refuses_traffic_and_accepts_shadow(store):
    app = _app(store, "finance-student:2", mode="split", student_weight=0.1)
    assert mark_shadow_only(app) is True and app["args"]["student"]["shadow_only"] is False
    with pytest.raises(GatesNotPassed, match="date_interpretation/agreement"):
        check_student_version(app, initial_router_config(app), False, "serving it")
    forced = check_student_version(app, initial_router_config(app), True, "serving it")
    assert forced is not None and not forced.passed
    shadow = _app(store, "finance-student:2", mode="shadow")
    assert mark_shadow_only(shadow) is False and shadow["args"]["student"]["shadow_only"] is True
    assert check_student_version(shadow, initial_router_config(shadow), False, "serving") is None
