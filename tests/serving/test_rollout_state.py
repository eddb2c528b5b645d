"""One rollout state for every Router (issue 17, item 5): the shared rollback decision (pure core
and two Routers sharing an in-process state), the latency gate, and the registry mark that the
next deploy refuses."""

from __future__ import annotations

import asyncio

import pytest
from mkd.cli.main import app
from mkd.config.store import StoreConfig
from mkd.registry import Registry, RegistryError
from mkd.release import RolledBack
from mkd.serve.config import RollbackPolicy
from mkd.serve.release_gate import check_student_version, initial_router_config
from mkd.storage import open_store
from typer.testing import CliRunner

from serving.answering import Answerer
from serving.canary import CanaryMonitor
from serving.rollout import RollbackMonitor, p95
from serving.rollout_state import LocalRolloutState, RolloutStateCore, applies

POLICY = {"window": 20, "min_samples": 10, "max_error_rate": 0.1, "max_fallback_rate": 0.2}


# --- the core ------------------------------------------------------------------------------------


def test_the_first_reason_wins_and_a_report_is_idempotent():
    core = RolloutStateCore()
    first = core.report("", "s:1", "error rate 0.50", "router-a")
    again = core.report("", "s:1", "fallback rate 0.90", "router-b")
    assert first["rollback"]["reason"] == again["rollback"]["reason"] == "error rate 0.50"
    assert again["rollback"]["by"] == "router-a" and again["epoch"] == first["epoch"]
    assert applies(again, "", "s:1")["by"] == "router-a"
    assert applies(again, "", "s:2") is None, "another student is not rolled back"


def test_a_new_clear_id_clears_once_and_stale_reports_are_ignored():
    core = RolloutStateCore()
    core.report("", "s:1", "error rate 0.50", "a")
    cleared = core.clear("c1")
    assert cleared["rollback"] is None and cleared["clear_id"] == "c1"
    assert core.clear("c1")["epoch"] == cleared["epoch"], "the same id clears nothing more"
    stale = core.report("", "s:1", "error rate 0.60", "b")  # a replica not yet reconfigured
    assert stale["rollback"] is None
    assert applies(core.report("c1", "s:1", "slow", "c"), "c1", "s:1")["reason"] == "slow"
    assert applies(core.snapshot(), "", "s:1") is None, "a replica on an old id does not apply it"


# --- two Routers, one state ----------------------------------------------------------------------


def _router(state: LocalRolloutState | None = None, **live) -> CanaryMonitor:
    user_config = {"mode": "split", "student_weight": 1.0, "rollback": POLICY, **live}
    args = {"guards": {"enabled": False}, "router": {"user_config": user_config}}
    return Answerer.build(None, None, args, rollout_state=state).canary


def _fail(router: CanaryMonitor, n: int) -> None:
    for _ in range(n):
        router.record("error")


def test_a_rollback_one_router_decides_reaches_the_other_and_a_restarted_one():
    state = LocalRolloutState()
    a, b = _router(state), _router(state)
    a.replica_name, b.replica_name = "router-a", "router-b"
    asyncio.run(b.refresh())
    _fail(a, 10)
    assert a.rolled_back and a.rolled_back_by == "router-a"
    assert b.rolled_back is None and b.monitor.stats().attempts == 0
    asyncio.run(b.refresh())  # what b's poller does every state_poll_s
    assert b.rolled_back == a.rolled_back and b.rolled_back_by == "router-a"
    assert b.weight("query_classifier") == ("split", 0.0)
    restarted = _router(state)  # a new replica: empty window, same state
    asyncio.run(restarted.sync_state())  # the first request's wait
    assert restarted.rolled_back == a.rolled_back
    assert restarted.weight("entity_extractor")[1] == 0.0


def test_a_clear_on_every_router_lifts_the_shared_rollback():
    state = LocalRolloutState()
    a, b = _router(state), _router(state)
    for r in (a, b):
        asyncio.run(r.refresh())
    _fail(a, 10)
    asyncio.run(b.refresh())
    assert b.rolled_back
    for r in (a, b):  # Serve reconfigures every replica with the new id
        r.reconfigure({**r.config.model_dump(mode="json"), "rollback_clear_id": "c1"})
        asyncio.run(r.refresh())
    assert a.rolled_back is None and b.rolled_back is None
    assert state.core.snapshot()["rollback"] is None
    assert _router(state, rollback_clear_id="c1").rolled_back is None


def test_a_weight_change_does_not_lift_a_shared_rollback():
    state = LocalRolloutState()
    a, b = _router(state), _router(state)
    _fail(a, 10)
    b.reconfigure({**b.config.model_dump(mode="json"), "student_weight": 0.5})
    asyncio.run(b.refresh())
    assert b.rolled_back and b.weight("query_classifier")[1] == 0.0


def test_a_lost_shared_state_is_reported_again():
    state = LocalRolloutState()
    a = _router(state)
    _fail(a, 10)
    state.core = RolloutStateCore()  # e.g. the actor was restarted

    async def poll_once() -> None:
        await a.refresh()
        await asyncio.gather(*a.reports)

    asyncio.run(poll_once())
    assert applies(state.core.snapshot(), "", a.student_id)["reason"] == a.rolled_back


# --- latency gate --------------------------------------------------------------------------------


def _latency_monitor(**kw) -> RollbackMonitor:
    return RollbackMonitor(
        RollbackPolicy(window=20, min_samples=10, max_p95_s=1.0, max_latency_ratio=2.0, **kw)
    )


def test_p95_is_the_nearest_rank():
    assert p95([]) is None
    assert p95([1.0]) == 1.0
    assert p95([float(i) for i in range(1, 101)]) == 95.0


def test_a_slow_student_is_rolled_back_above_both_bounds():
    m = _latency_monitor()
    for _ in range(9):
        m.record_latency("student", 3.0)
    assert m.check() is None, "fewer than min_samples calls"
    m.record_latency("student", 3.0)
    assert "student p95 latency 3.00s > 1.0s over 10 calls (no teacher" in m.check()
    for _ in range(10):
        m.record_latency("teacher", 1.0)
    assert "2.0 x teacher p95 1.00s" in m.check()


def test_slow_student_within_the_ratio_or_the_bound_stays():
    m = _latency_monitor()
    for _ in range(10):
        m.record_latency("student", 3.0)
        m.record_latency("teacher", 2.0)  # 3.0 <= 2 x 2.0: as slow as a slow teacher allows
    assert m.check() is None
    fast = _latency_monitor()
    for _ in range(10):
        fast.record_latency("student", 0.9)  # under max_p95_s, however fast the teacher is
        fast.record_latency("teacher", 0.01)
    assert fast.check() is None


def test_latency_samples_survive_a_policy_change():
    m = _latency_monitor()
    for _ in range(6):
        m.record_latency("student", 3.0)
    m = m.with_policy(RollbackPolicy(window=20, min_samples=10, max_p95_s=0.5))
    for _ in range(4):
        m.record_latency("student", 3.0)
    assert m.stats().student_latency_samples == 10 and "latency" in m.check()


def test_router_records_latency_and_rolls_a_slow_student_back():
    router = _router(rollback={**POLICY, "max_p95_s": 0.5})
    for _ in range(10):
        router.monitor.record("ok")
        router.monitor.record_latency("student", 2.0)
    router.check_rollback()
    assert router.rolled_back and "latency" in router.rolled_back


# --- the registry mark ---------------------------------------------------------------------------


@pytest.fixture
def store(tmp_path) -> StoreConfig:
    config = StoreConfig(uri=f"file://{tmp_path}/store")
    registry = Registry(open_store(config))
    registry.register("finance-student", {"gates": {"passed": True, "failed": []}})
    registry.register("finance-student", {"gates": {"passed": True, "failed": []}})
    return config


def test_the_registry_mark_is_first_wins_and_kept_with_the_stage(store):
    registry = Registry(open_store(store))
    registry.promote("finance-student:1", "canary")
    mark = registry.mark_rolled_back("finance-student", 1, "error rate 0.50", by="router r1")
    again = registry.mark_rolled_back("finance-student", 1, "fallback rate 0.9")
    assert mark == again and mark["reason"] == "error rate 0.50" and mark["by"] == "router r1"
    mv = registry.get("finance-student", 1)
    assert mv.stage == "canary" and mv.rolled_back["reason"] == "error rate 0.50"
    assert registry.history("finance-student")[-1]["action"] == "rolled_back"
    assert registry.get("finance-student", 2).rolled_back is None
    with pytest.raises(RegistryError, match="does not exist"):
        registry.mark_rolled_back("finance-student", 9, "x")


def test_a_rolled_back_version_is_refused_for_traffic_unless_forced(store):
    Registry(open_store(store)).mark_rolled_back("finance-student", 1, "error rate 0.50")
    app_entry = {
        "name": "mkd",
        "args": {"student": {"version": "finance-student:1"}, "store": store.model_dump()},
        "deployments": [
            {"name": "Router", "user_config": {"mode": "split", "student_weight": 0.1}}
        ],
    }
    router = initial_router_config(app_entry)
    with pytest.raises(RolledBack, match=r"finance-student:1 was rolled back .*error rate 0.50"):
        check_student_version(app_entry, router, False, "a student weight above 0")
    forced = check_student_version(app_entry, router, True, "a student weight above 0")
    assert (
        forced.passed
        and not forced.clean
        and "rolled back (error rate 0.50)" in (forced.describe())
    )
    shadow = initial_router_config({"deployments": [{"name": "Router", "user_config": {}}]})
    assert check_student_version(app_entry, shadow, False, "shadow") is None
    registry = Registry(open_store(store))
    with pytest.raises(RolledBack, match=r"error rate 0\.50"):
        registry.promote("finance-student:1", "production")
    with pytest.raises(RegistryError, match="must give a reason"):
        registry.promote("finance-student:1", "production", force=True)
    registry.promote("finance-student:1", "production", reason="fixed upstream", force=True)


def test_the_router_marks_the_registry_version_it_rolled_back(store):
    user_config = {"mode": "split", "student_weight": 1.0, "rollback": POLICY}
    args = {
        "guards": {"enabled": False},
        "router": {"user_config": user_config},
        "student": {"version": "finance-student@candidate"},
        "store": store.model_dump(),
    }
    router = Answerer.build(None, None, args, rollout_state=LocalRolloutState()).canary
    _fail(router, 10)
    mv = Registry(open_store(store)).get("finance-student", 2)  # what @candidate resolves to
    assert mv.rolled_back and "error rate" in mv.rolled_back["reason"]
    assert mv.rolled_back["by"] == f"router {router.replica_name}"


def test_mkd_models_show_and_list_display_the_rollback(store, tmp_path):
    import yaml

    Registry(open_store(store)).mark_rolled_back("finance-student", 1, "error rate 0.50")
    cfg = tmp_path / "pipeline.yaml"
    cfg.write_text(yaml.safe_dump({"store": store.model_dump()}))
    runner = CliRunner()
    shown = runner.invoke(app, ["models", "show", "finance-student:1", "-c", str(cfg)])
    assert shown.exit_code == 0, shown.output
    assert "rolled_back" in shown.output and "error rate 0.50" in shown.output
    listed = runner.invoke(
        app, ["models", "list", "finance-student", "-c", str(cfg)], env={"COLUMNS": "250"}
    )
    assert listed.exit_code == 0 and "rolled back" in listed.output


def test_registry_rollback_skips_a_version_serving_rolled_back(store):
    registry = Registry(open_store(store))
    registry.register("finance-student", {"gates": {"passed": True, "failed": []}})
    for v in (1, 2, 3):
        registry.promote(f"finance-student:{v}", "production")
    registry.mark_rolled_back("finance-student", 2, "error rate 0.50")
    event = registry.rollback("finance-student", reason="v3 regressed")
    assert event["version"] == 1 and event["rolled_back"] == 3


def test_mkd_rollout_set_refuses_a_rolled_back_version_naming_the_reason(store, monkeypatch):
    from mkd.serve import control

    Registry(open_store(store)).mark_rolled_back("finance-student", 1, "error rate 0.50")
    deployed = {"applications": [{"name": "mkd", "import_path": "serving.app:build_app",
                                  "args": {"student": {"version": "finance-student:1"},
                                           "store": store.model_dump()},
                                  "deployments": [{"name": "Router", "user_config": {}}]}]}  # fmt: skip
    applied = []
    monkeypatch.setattr(control, "current_config", lambda _url: deployed)
    monkeypatch.setattr(
        control,
        "update_live_config",
        lambda url, dep, changes: (
            applied.append(changes)
            or {"mode": "split", "student_weight": 0.1, "task_overrides": {}}
        ),
    )
    runner = CliRunner()
    env = {"COLUMNS": "300"}
    refused = runner.invoke(app, ["rollout", "set", "--weight", "0.1"], env=env)
    assert refused.exit_code == 1 and "error rate 0.50" in refused.output and not applied
    assert runner.invoke(app, ["rollout", "set", "--weight", "0"], env=env).exit_code == 0
    forced = runner.invoke(app, ["rollout", "set", "--weight", "0.1", "--force"], env=env)
    assert forced.exit_code == 0 and "FORCED" in forced.output and "rolled back" in forced.output


class _UnreachableState(LocalRolloutState):
    """A state whose reads never answer (an actor that cannot be reached)."""

    async def snapshot(self) -> dict:
        await asyncio.sleep(3600)
        return {}


def test_an_unreachable_state_delays_only_the_first_two_seconds_of_a_replica():
    import time

    router = _router(_UnreachableState())

    async def two_requests() -> tuple[float, float]:
        t0 = time.monotonic()
        await router.sync_state()
        t1 = time.monotonic()
        await router.sync_state()
        return t1 - t0, time.monotonic() - t1

    first, second = asyncio.run(two_requests())
    assert 1.5 < first < 3 and second < 0.1
    assert router.weight("query_classifier") == ("split", 1.0), "it routes with what it knows"
