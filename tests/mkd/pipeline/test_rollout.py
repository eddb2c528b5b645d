"""The demo's rollout rule: a version whose gates failed is served in shadow only, never canaried,
unless the run was forced (and then the summary says so)."""

from __future__ import annotations

from pathlib import Path

from mkd.config import parse_config
from mkd.pipeline.rollout import canary_decision
from mkd.pipeline.runner import PipelineContext
from mkd.pipeline.table import rollout_row
from mkd.registry import Registry
from mkd.storage import open_store
from rich.console import Console


def _ctx(tmp_path: Path, force: bool = False) -> PipelineContext:
    cfg = parse_config({"demo": {"force_canary": force}}, "<test>")
    return PipelineContext(cfg, open_store(f"file://{tmp_path / 'store'}"), Console())


def _register(ctx: PipelineContext, passed: bool) -> str:
    failed = [] if passed else ["currency_identifier/agreement_lower_bound"]
    gates = {"passed": passed, "failed": failed, "results": []}
    return Registry(ctx.store).register("finance-student", {"gates": gates}).ref


def test_a_version_that_failed_its_gates_is_never_canaried(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    allowed, why = canary_decision(ctx, _register(ctx, passed=False))
    assert not allowed
    assert "currency_identifier/agreement_lower_bound" in why and "shadow only" in why


def test_a_version_that_passed_its_gates_takes_the_canary(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    assert canary_decision(ctx, _register(ctx, passed=True)) == (True, "gates passed")


def test_force_canaries_a_rejected_version_and_says_so(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, force=True)
    allowed, why = canary_decision(ctx, _register(ctx, passed=False))
    assert allowed and why.startswith("FORCED past failed gates")


def test_the_summary_row_reads_shadow_only_for_a_refused_canary() -> None:
    shadow = {"requests": 8, "non_2xx": 0, "routes": {"teacher": 8}}
    serve = {"version": "finance-student:3", "shadow": shadow, "canary": None, "weight": 0.0,
             "decision": "canary refused: gates failed (x/agreement); shadow only"}  # fmt: skip
    row = rollout_row(serve)
    assert row["student"] == "shadow only (finance-student:3)"
    assert row["change"].startswith("canary refused") and "routes teacher 8" in row["change"]


def test_deploy_shadow_swaps_the_student_and_takes_it_out_of_traffic(monkeypatch) -> None:
    """The loop's shadow deploy: the running app's student becomes the candidate, the Router
    goes to shadow with no per-task exception (no student traffic, so no gate applies)."""
    from mkd.pipeline.rollout import deploy_shadow
    from mkd.serve import control

    running = {
        "applications": [
            {
                "name": "mkd",
                "import_path": "serving.app:build_app",
                "args": {"student": {"version": "finance-student@production"}},
                "deployments": [
                    {
                        "name": "Router",
                        "user_config": {
                            "mode": "split",
                            "student_weight": 0.5,
                            "task_overrides": {"query_classifier": {"student_weight": 1.0}},
                        },
                    }
                ],
            }
        ]
    }
    sent: list[dict] = []
    monkeypatch.setattr(control, "current_config", lambda url: running)
    monkeypatch.setattr(control, "deploy", lambda url, config: sent.append(config))
    monkeypatch.setattr(control, "wait_running", lambda url, app, timeout: {})
    live = deploy_shadow("http://127.0.0.1:8265", "finance-student:7")
    app = control.mkd_app(sent[0])
    assert app["args"]["student"]["version"] == "finance-student:7"
    assert app["args"]["student"]["shadow_only"] is True
    assert live["mode"] == "shadow" and live["student_weight"] == 0.0
    assert live["task_overrides"] == {}
