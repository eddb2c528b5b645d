"""`mkd demo --loop`'s pieces: the traffic's queries, the loop turn's config, the summary rows.
(The whole turn on real parts: test_loop_from_traffic.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mkd.cli.pipeline_cmds import _forced
from mkd.config import parse_config
from mkd.pipeline.demo_loop import loop_config, loop_queries
from mkd.pipeline.report import loop_rows
from mkd.pipeline.rollout import serve_config
from mkd.pipeline.runner import PipelineContext
from mkd.storage import open_store
from rich.console import Console


def _ctx(tmp_path: Path, **demo: object) -> PipelineContext:
    cfg = parse_config({"demo": {"loop": True, **demo}}, "<test>")
    return PipelineContext(cfg, open_store(f"file://{tmp_path / 'store'}"), Console(quiet=True))


def test_the_flag_sets_demo_loop_beside_force() -> None:
    assert _forced({}, False) == {}
    assert _forced({}, True, True)["demo"] == {"force_canary": True, "loop": True}
    assert _forced({"demo": {"canary_weight": 0.5}}, False, True)["demo"] == {
        "canary_weight": 0.5,
        "loop": True,
    }


def test_traffic_is_one_request_per_distinct_query_of_the_packs_blind_set(tmp_path) -> None:
    queries = loop_queries(_ctx(tmp_path))
    inputs = [q["input"] for q in queries]
    assert len(inputs) == len(set(inputs)) > 20
    assert all(q["context"] for q in queries)
    assert len(loop_queries(_ctx(tmp_path, loop_max_queries=5))) == 5


def test_a_bad_traffic_file_names_its_line(tmp_path) -> None:
    path = tmp_path / "traffic.jsonl"
    path.write_text(json.dumps({"input": "TCS revenue", "task": "x"}) + "\n{oops\n")
    with pytest.raises(ValueError, match=r"traffic\.jsonl:2"):
        loop_queries(_ctx(tmp_path, loop_queries=str(path)))
    with pytest.raises(FileNotFoundError, match=r"demo\.loop_queries"):
        loop_queries(_ctx(tmp_path, loop_queries=str(tmp_path / "missing.jsonl")))


def test_the_turn_warm_starts_from_the_evaluated_student_and_shadows_on_the_demo_app(
    tmp_path,
) -> None:
    ctx = _ctx(tmp_path, loop_training_minutes=2.5, deadline_minutes=20)
    ctx.outputs["evaluate"] = {"version": "finance-student:1"}
    ctx.services |= {"dashboard_url": "http://127.0.0.1:8265", "ray_address": "127.0.0.1:6379"}
    cfg = loop_config(ctx)
    assert (cfg.loop.current, cfg.loop.serve_dashboard) == (
        "finance-student:1",
        "http://127.0.0.1:8265",
    )
    assert cfg.training.budget_minutes == 2.5 and cfg.demo.deadline_minutes is None
    assert cfg.training.ray_address == "127.0.0.1:6379"
    assert ctx.cfg.loop.current is None  # the demo's own config is left alone


def test_the_demo_app_captures_only_with_loop(tmp_path) -> None:
    from mkd.serve.control import mkd_app

    on = mkd_app(serve_config(_ctx(tmp_path), "finance-student:1", "http://t", 8000))
    assert on["args"]["capture"]["enabled"] is True
    ctx = PipelineContext(parse_config({}, "<test>"), open_store(f"file://{tmp_path}"), Console())
    off = mkd_app(serve_config(ctx, "finance-student:1", "http://t", 8000))
    assert not off["args"].get("capture", {}).get("enabled")


def test_the_summary_compares_v1_and_v2_per_set(tmp_path) -> None:
    ctx = _ctx(tmp_path)
    ctx.outputs["loop"] = {
        "candidate": "finance-student:4", "passed": False, "deployed": True,
        "dataset": "finance/v2",
        "overall": {"benchmark": {"current": 0.70, "candidate": 0.72, "delta": 0.02},
                    "new": {"current": 0.50, "candidate": 0.61, "delta": 0.11}},
    }  # fmt: skip
    rows = loop_rows(ctx)
    assert [r["metric"] for r in rows[:2]] == [
        "agreement, fixed benchmark",
        "agreement, new items from the traffic",
    ]
    assert (rows[1]["v1 (served)"], rows[1]["v2 (candidate)"], rows[1]["change"]) == (
        "0.500",
        "0.610",
        "+0.110",
    )
    assert rows[2]["v2 (candidate)"] == "finance-student:4 on finance/v2 (gates failed; in shadow)"
    assert loop_rows(_ctx(tmp_path)) == []
