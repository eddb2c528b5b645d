"""Canary routing and the sliding-window rollback policy (pure logic)."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st
from mkd.serve.config import RollbackPolicy, RouterConfig, TaskOverride
from mkd.serve.plan import rollout_plan

from serving.rollout import (
    RollbackMonitor,
    cohort_point,
    route_point,
    takes_student,
)


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


def _monitor(**kw) -> RollbackMonitor:
    return RollbackMonitor(RollbackPolicy(window=20, min_samples=10, min_agreement_samples=5, **kw))


def test_no_verdict_before_min_samples():
    m = _monitor()
    for _ in range(9):
        m.record("error")
    assert m.check() is None
    m.record("error")
    assert "error rate" in m.check()


def test_fallback_rate_gate():
    m = _monitor(max_fallback_rate=0.2)
    for i in range(20):
        m.record("fallback" if i % 4 == 0 else "ok")  # 25 %
    assert "fallback rate 0.25" in m.check()


def test_errors_count_as_fallbacks_too():
    stats = _monitor().stats()
    assert stats.attempts == 0
    m = _monitor()
    for outcome in ["ok", "error", "fallback", "ok"]:
        m.record(outcome)
    s = m.stats()
    assert (s.fallback_rate, s.error_rate) == (0.5, 0.25)


def test_window_slides_old_failures_out():
    m = _monitor(max_error_rate=0.3)
    for _ in range(10):
        m.record("error")
    assert m.check() is not None
    for _ in range(20):
        m.record("ok")
    assert m.check() is None


def test_agreement_gate_needs_enough_pairs():
    m = _monitor(min_agreement=0.8)
    for _ in range(4):
        m.record_agreement(0.0)
    assert m.check() is None
    m.record_agreement(0.0)
    assert "agreement 0.00 < 0.8" in m.check()


def test_disabled_policy_never_rolls_back():
    m = _monitor(enabled=False)
    for _ in range(20):
        m.record("error")
    assert m.check() is None


def test_plan_goes_shadow_then_5_25_50_100_with_gates():
    stages = rollout_plan(RouterConfig())
    assert [(s.mode, s.student_weight) for s in stages] == [
        ("shadow", 0.0), ("split", 0.05), ("split", 0.25), ("split", 0.5), ("split", 1.0),
    ]  # fmt: skip
    assert all("agreement >=" in s.gate for s in stages)
