"""The routing policy (serving.policy): pure decisions, no Ray, no handles, no clock."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mkd.serve.config import RouterConfig, StudentArgs, TaskOverride

from serving.policy import (
    canary_on,
    cohort_point,
    effective,
    judge_student,
    mirrors,
    pending_limit,
    plan_routes,
    route_point,
    student_has_room,
    takes_student,
    validate_live_config,
)

TASKS = ["query_classifier", "entity_extractor", "date_interpretation"]


def test_split_share_follows_the_weight():
    rng = random.Random(7)
    share = sum(takes_student(0.25, route_point(None, rng)) for _ in range(4000)) / 4000
    assert abs(share - 0.25) < 0.03


def test_weights_zero_and_one_are_absolute():
    rng = random.Random(1)
    assert not any(takes_student(0.0, route_point(None, rng)) for _ in range(500))
    assert all(takes_student(1.0, route_point(None, rng)) for _ in range(500))


@given(st.text(min_size=1, max_size=40), st.floats(0, 1), st.floats(0, 1))
def test_a_sticky_user_keeps_its_side_and_raising_the_weight_only_adds_users(user, w1, w2):
    low, high = sorted((w1, w2))
    rng = random.Random(0)
    point = route_point(user, rng)
    assert point == cohort_point(user) == route_point(user, random.Random(99))
    if takes_student(low, point):
        assert takes_student(high, point)


def test_sticky_cohort_share_matches_the_weight():
    share = sum(takes_student(0.1, cohort_point(f"user-{i}")) for i in range(5000)) / 5000
    assert abs(share - 0.1) < 0.02


def test_task_override_wins_over_the_global_setting():
    cfg = RouterConfig(
        mode="split",
        student_weight=0.5,
        task_overrides={
            "date_interpretation": TaskOverride(mode="shadow"),
            "entity_extractor": TaskOverride(student_weight=0.0),
        },
    )
    assert cfg.for_task("query_classifier") == ("split", 0.5)
    assert cfg.for_task("date_interpretation") == ("shadow", 0.5)
    assert cfg.for_task("entity_extractor") == ("split", 0.0)


def test_a_request_point_routes_each_task_by_its_own_weight():
    cfg = RouterConfig(
        mode="split",
        student_weight=0.3,
        task_overrides={
            "entity_extractor": TaskOverride(student_weight=0.8),
            "date_interpretation": TaskOverride(mode="shadow"),
        },
    )
    plan = plan_routes(cfg, TASKS, 0.5, rolled_back=False)
    assert plan == {
        "query_classifier": "teacher",
        "entity_extractor": "student",
        "date_interpretation": "shadow",
    }
    assert plan_routes(cfg, TASKS, 0.1, rolled_back=False)["query_classifier"] == "student"


def test_a_rollback_sends_every_task_to_the_teacher_and_keeps_shadow():
    cfg = RouterConfig(
        mode="split",
        student_weight=1.0,
        task_overrides={"date_interpretation": TaskOverride(mode="shadow")},
    )
    plan = plan_routes(cfg, TASKS, 0.0, rolled_back=True)
    assert plan == {
        "query_classifier": "teacher",
        "entity_extractor": "teacher",
        "date_interpretation": "shadow",
    }
    assert effective(cfg, "query_classifier", rolled_back=True) == ("split", 0.0)
    assert canary_on(cfg, TASKS, rolled_back=False) and not canary_on(cfg, TASKS, True)


def test_a_forced_route_wins_over_mode_weight_and_rollback():
    cfg = RouterConfig(mode="shadow")
    assert plan_routes(cfg, ["query_classifier"], 0.9, True, forced="student") == {
        "query_classifier": "student"
    }
    split = RouterConfig(mode="split", student_weight=1.0)
    assert plan_routes(split, ["query_classifier"], 0.0, False, "teacher") == {
        "query_classifier": "teacher"
    }


def test_shadow_mode_and_weight_zero_take_no_user_traffic():
    assert not canary_on(RouterConfig(mode="shadow", student_weight=1.0), TASKS, False)
    assert not canary_on(RouterConfig(mode="split", student_weight=0.0), TASKS, False)
    assert effective(
        RouterConfig(mode="shadow", student_weight=0.7), "query_classifier", False
    ) == (
        "shadow",
        0.0,
    )


def test_mirror_share_follows_mirror_fraction():
    cfg = RouterConfig(mirror_fraction=0.25)
    rng = random.Random(3)
    share = sum(mirrors(cfg, rng.random()) for _ in range(4000)) / 4000
    assert abs(share - 0.25) < 0.03
    assert not mirrors(RouterConfig(mirror_fraction=0.0), 0.0)


def test_a_student_answer_falls_back_when_invalid_or_guarded():
    valid = lambda output: []  # noqa: E731
    invalid = lambda output: ["category: not one of the enum"]  # noqa: E731
    answer = {"output": {"category": "LIST"}, "version": "s:1"}
    assert judge_student(answer, valid, None) == "ok"
    assert judge_student({**answer, "error": "decode failed"}, valid, None) == "invalid"
    assert judge_student(answer, invalid, lambda v: True) == "invalid"
    assert judge_student(answer, valid, lambda v: False) == "guard"
    assert judge_student(answer, valid, lambda v: True) == "ok"


def test_a_live_config_naming_an_unserved_task_is_refused_by_name():
    with pytest.raises(ValueError, match=r"task_overrides: unknown task\(s\) \['nope'\]"):
        validate_live_config({"task_overrides": {"nope": {"mode": "shadow"}}}, TASKS)
    assert validate_live_config(None, TASKS) == RouterConfig()


def test_by_default_a_router_keeps_one_batch_per_student_replica_at_the_student():
    assert pending_limit(StudentArgs(max_batch_size=8), router_replicas=1) == 8
    assert pending_limit(StudentArgs(max_batch_size=64, num_replicas=2), router_replicas=1) == 128
    # the Router replicas share the cap, each its share rounded up
    assert pending_limit(StudentArgs(max_batch_size=8), router_replicas=3) == 3
    # vLLM batches continuously: its batch is vllm.max_num_seqs (vLLM's default when unset)
    vllm = StudentArgs(backend="vllm", num_replicas=2, vllm={"max_num_seqs": 64})
    assert pending_limit(vllm, router_replicas=1) == 128
    assert pending_limit(StudentArgs(backend="vllm"), router_replicas=1) == 256


def test_an_explicit_pending_cap_is_shared_and_minus_one_lifts_it():
    assert pending_limit(StudentArgs(max_pending_answers=10), router_replicas=2) == 5
    assert pending_limit(StudentArgs(max_pending_answers=1), router_replicas=4) == 1
    assert pending_limit(StudentArgs(max_pending_answers=-1), router_replicas=1) is None


def test_a_full_student_takes_no_more_answers():
    assert student_has_room(pending=14, adding=2, limit=16)
    assert not student_has_room(pending=15, adding=2, limit=16)
    assert not student_has_room(pending=16, adding=1, limit=16)
    assert student_has_room(pending=10_000, adding=4, limit=None)


def test_a_request_larger_than_the_cap_still_reaches_an_idle_student():
    assert student_has_room(pending=0, adding=4, limit=2)
    assert not student_has_room(pending=1, adding=4, limit=2)
