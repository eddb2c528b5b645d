"""The demo's training budget: what the deadline leaves once the later stages have their time,
from this machine's measured speed (here: speeds given, no model timed)."""

from __future__ import annotations

import pytest
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


def test_jump_forward_counts_only_the_tokens_with_an_open_byte(tiny_base):
    from mkd.decoding.grammar import Grammar
    from mkd.pipeline.budget import answer_tokens, open_tokens
    from mkd.tasks import load_pack
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_base)
    schema = load_pack("finance").tasks["query_classifier"].output_schema
    answer = '{"category":"COMPARE"}'
    every = len(tokenizer(answer, add_special_tokens=False)["input_ids"])
    # the key and the punctuation are fixed: only the value's tokens are choices
    assert 1 <= open_tokens(tokenizer, Grammar(schema), answer) < every
    assert open_tokens(tokenizer, Grammar(schema), '{"category":"GOSSIP"}') is None
    records = [{"task": "query_classifier", "output": answer}]
    plain = answer_tokens(tokenizer, records)["query_classifier"]
    assert (
        answer_tokens(tokenizer, records, {"query_classifier": schema})["query_classifier"] < plain
    )


def test_the_serve_estimate_is_the_teachers_replays_and_the_canarys_student_share():
    from mkd.pipeline.budget import serve_seconds

    cfg = _config()
    cfg.demo.teacher_latency_ms, cfg.demo.teacher_jitter_ms, cfg.demo.canary_weight = 0, 0, 0.0
    assert serve_seconds(cfg, _speed(1.0), TOKENS) == _speed(1.0).load_s
    cfg.demo.teacher_latency_ms, cfg.demo.replay_requests = 1000, 8
    assert serve_seconds(cfg, _speed(1.0), TOKENS) == _speed(1.0).load_s + 2 * 2 * 1.0
    cfg.demo.canary_weight = 0.25  # 2 of the 8 decoded by the student, one after another
    alone = 0.1 + sum(TOKENS.values()) / len(TOKENS) * 0.03
    assert serve_seconds(cfg, _speed(1.0), TOKENS) == pytest.approx(2.0 + 4.0 + 2 * alone)
