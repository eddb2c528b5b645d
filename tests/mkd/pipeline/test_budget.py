"""The demo's training budget: what the deadline leaves once the later stages have their time,
from this machine's measured speed (here: speeds given, no model timed)."""

from __future__ import annotations

from mkd.config import PipelineConfig
from mkd.pipeline.budget import MachineSpeed, later_stages_seconds, training_budget

TOKENS = {"query_classifier": 6, "entity_extractor": 20, "date_interpretation": 30,
          "currency_identifier": 12}  # fmt: skip


def _speed(scale: float) -> MachineSpeed:
    return MachineSpeed(load_s=2 * scale, prefill_s=0.4 * scale, step_s=0.05 * scale,
                        prefill_one_s=0.1 * scale, step_one_s=0.03 * scale, batch=16)  # fmt: skip


def _config() -> PipelineConfig:
    cfg = PipelineConfig()
    cfg.demo.deadline_minutes = 28
    return cfg


def test_a_faster_machine_leaves_training_more_of_the_deadline():
    cfg = _config()
    fast = training_budget(cfg, 300, _speed(1.0), TOKENS)
    slow = training_budget(cfg, 300, _speed(2.0), TOKENS)
    assert fast["budget_minutes"] > slow["budget_minutes"] >= cfg.demo.min_train_minutes
    assert not fast["deadline_missed"]
    later = later_stages_seconds(cfg, _speed(2.0), TOKENS)
    assert set(later) == {"evaluate", "export", "serve"} and all(v > 0 for v in later.values())


def test_a_machine_too_slow_for_the_deadline_gets_the_floor_and_says_so():
    cfg = _config()
    budget = training_budget(cfg, 300, _speed(20.0), TOKENS)
    assert budget["budget_minutes"] == cfg.demo.min_train_minutes
    assert budget["deadline_missed"]
