"""Clearing a rollback is explicit (rollback_clear_id, `mkd rollout clear`); weight, mode and
policy changes keep the rollback and the window's samples."""

from __future__ import annotations

from mkd.cli.main import app
from mkd.serve import control
from mkd.serve.config import RollbackPolicy
from typer.testing import CliRunner

from serving.answering import Answerer
from serving.canary import CanaryMonitor
from serving.rollout import RollbackMonitor

POLICY = {"window": 20, "min_samples": 10, "max_error_rate": 0.1, "max_fallback_rate": 0.2}


def _router(**live) -> CanaryMonitor:
    user_config = {"mode": "split", "student_weight": 0.5, "rollback": POLICY, **live}
    args = {"guards": {"enabled": False}, "router": {"user_config": user_config}}
    return Answerer.build(None, None, args).canary


def _live(router: CanaryMonitor, **changes) -> dict:
    return {**router.config.model_dump(mode="json"), **changes}


def _fail_student(router: CanaryMonitor, n: int) -> None:
    for _ in range(n):
        router.record("error")


def test_a_weight_change_keeps_the_rollback_and_the_window() -> None:
    router = _router()
    _fail_student(router, 10)
    assert router.rolled_back and router.weight("query_classifier") == ("split", 0.0)
    router.reconfigure(_live(router, student_weight=0.25))
    assert router.rolled_back, "a set must not clear the rollback"
    assert router.weight("query_classifier")[1] == 0.0
    assert router.monitor.stats().attempts == 10
    router.reconfigure(_live(router, mode="shadow"))
    assert router.rolled_back and router.monitor.stats().attempts == 10


def test_the_minimum_sample_count_survives_weight_changes() -> None:
    router = _router()
    for _ in range(6):
        router.monitor.record("ok")
    router.reconfigure(_live(router, student_weight=0.25))
    _fail_student(router, 4)  # 4/10 errors: only gates once the 10 samples count together
    assert router.monitor.stats().attempts == 10
    assert router.rolled_back and "error rate 0.40" in router.rolled_back


def test_a_policy_change_keeps_the_recent_samples() -> None:
    router = _router()
    for _ in range(15):
        router.monitor.record("ok")
    router.reconfigure(_live(router, rollback={**POLICY, "window": 12}))
    assert router.monitor.policy.window == 12 and router.monitor.stats().attempts == 12


def test_a_new_clear_id_lifts_the_rollback_and_restarts_the_window() -> None:
    router = _router()
    _fail_student(router, 10)
    assert router.rolled_back
    router.reconfigure(_live(router, rollback_clear_id="2026-12-05T12:00Z"))
    assert router.rolled_back is None and router.monitor.stats().attempts == 0
    assert router.weight("query_classifier") == ("split", 0.5)
    router.reconfigure(_live(router, student_weight=0.3))  # same id: nothing more is cleared
    _fail_student(router, 10)
    router.reconfigure(_live(router, student_weight=0.4))
    assert router.rolled_back


def test_monitor_with_policy_trims_to_the_new_window() -> None:
    monitor = RollbackMonitor(RollbackPolicy(window=5))
    for outcome in ["error"] * 3 + ["ok"] * 2:
        monitor.record(outcome)
    monitor.record_agreement(0.5)
    smaller = monitor.with_policy(RollbackPolicy(window=2))
    assert list(smaller.outcomes) == ["ok", "ok"] and list(smaller.agreements) == [0.5]


def test_mkd_rollout_clear_sets_a_new_clear_id(monkeypatch) -> None:
    calls = []
    monkeypatch.setattr(
        control,
        "update_live_config",
        lambda url, dep, changes: calls.append((url, dep, changes)) or changes,
    )
    runner = CliRunner()
    for _ in range(2):
        result = runner.invoke(app, ["rollout", "clear", "--dashboard", "http://127.0.0.1:9"])
        assert result.exit_code == 0, result.output
        assert "cleared" in result.output
    (url, dep, first), (_, _, second) = calls
    assert url == "http://127.0.0.1:9" and dep == "Router"
    assert set(first) == {"rollback_clear_id"} and first != second


def test_mkd_rollout_set_never_touches_the_clear_id(monkeypatch) -> None:
    seen = []

    def update(url, dep, changes):
        seen.append(changes)
        return {"mode": "split", "student_weight": 0.1, "task_overrides": {}}

    monkeypatch.setattr(control, "update_live_config", update)
    deployed = {"applications": [{"name": "mkd", "import_path": "serving.app:build_app",
                                  "args": {"student": {"model_uri": "file:///models/student"}},
                                  "deployments": [{"name": "Router", "user_config": {}}]}]}  # fmt: skip
    monkeypatch.setattr(control, "current_config", lambda _url: deployed)
    result = CliRunner().invoke(app, ["rollout", "set", "--weight", "0.1"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert seen == [{"mode": "split", "student_weight": 0.1}]
    assert "mkd rollout clear" in result.output
