"""The sliding-window rollback policy (pure logic; routing: test_policy.py)."""

from __future__ import annotations

from mkd.serve.config import RollbackPolicy, RouterConfig
from mkd.serve.plan import rollout_plan

from serving.rollout import RollbackMonitor


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
