"""The `evaluation` section: which model is judged on which split, the gates, the price table."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from mkd.config.base import Section


class TaskGate(Section):
    """Thresholds a candidate must meet on one task of the test split."""

    min_agreement: float = Field(
        0.90, ge=0, le=1, description="Minimum agreement with the teacher (the task's scorer)."
    )
    min_agreement_lower_bound: float = Field(
        0.85,
        ge=0,
        le=1,
        description="Minimum lower end of agreement's 95% interval: the gate holds only if the "
        "sample shows the agreement, not just the point estimate (20 items cannot tell 0.9 from "
        "0.7).",
    )
    min_items: int = Field(
        100, ge=0, description="Minimum test items of the task; fewer fail the gate."
    )
    max_violation_rate: float = Field(
        0.0, ge=0, le=1, description="Maximum share of answers that break the task's schema."
    )
    min_score: float | None = Field(
        None, ge=0, le=1, description="Optional minimum score against the dataset labels."
    )


class ModelPrice(Section):
    """What one query costs: tokens at a hosted price, plus instance time for self-hosted models."""

    input_per_1m: float = Field(0.0, ge=0, description="USD per 1M prompt tokens.")
    output_per_1m: float = Field(0.0, ge=0, description="USD per 1M output tokens.")
    instance_per_hour: float = Field(
        0.0, ge=0, description="USD per hour of the machine serving it, charged per query time."
    )

    def per_1k_queries(self, prompt_tokens: float, output_tokens: float, seconds: float) -> float:
        """Cost of 1,000 queries with these mean tokens and mean seconds per query."""
        tokens = prompt_tokens * self.input_per_1m + output_tokens * self.output_per_1m
        return 1000 * (tokens / 1e6 + seconds * self.instance_per_hour / 3600)


def _default_prices() -> dict[str, ModelPrice]:
    return {
        # A hosted frontier-class teacher (list price of a GPT-4o-class model).
        "teacher": ModelPrice(input_per_1m=2.50, output_per_1m=10.00),
        # Self-hosted student and base: a g5.xlarge-class GPU node (~1 USD/hour), per query time.
        "student": ModelPrice(instance_per_hour=1.006),
        "base": ModelPrice(instance_per_hour=1.006),
    }


class EvaluationConfig(Section):
    """Evaluation of a trained student against the teacher and the untouched base model."""

    candidate: str | None = Field(
        None,
        description="Model to judge: a run id, `run:ID`, or a registry ref (NAME:VERSION, "
        "NAME@STAGE). None: the newest training run in the store.",
    )
    dataset: str | None = Field(
        None,
        description="Dataset `NAME/VERSION` in the store. None: the candidate run's dataset, "
        "else the newest version of data.dataset.",
    )
    split: Literal["test", "val", "train", "test_new"] = Field(
        "test",
        description="Split to evaluate on. test_new: the new items of a dataset `mkd loop` built "
        "(test is its fixed benchmark).",
    )
    max_items_per_task: int | None = Field(
        40,
        ge=1,
        description="Items per task, spread over the split's prompt families (deterministic). "
        "GPU cluster: null (the whole split).",
    )
    base_max_items_per_task: int | None = Field(
        10,
        ge=1,
        description="Items per task for the untouched base model's rows (the low bar), a "
        "family-spread subset of the same items: an untrained base writes to the token cap and "
        "the few-shot prompt is ~10x longer, so these rows cost most of the evaluation's time. "
        "None: as many as max_items_per_task. GPU cluster: null.",
    )
    batch_size: int = Field(
        16, ge=1, le=1024, description="Prompts per generate call. GPU cluster: 64-256."
    )
    latency_probe_items: int = Field(
        4,
        ge=0,
        description="Items per task each local model also answers one at a time, for a "
        "per-request latency comparable with the teacher's (0 = none).",
    )
    max_new_tokens: int | None = Field(
        None, ge=1, description="Cap on generated tokens; None: each task's max_output_tokens."
    )
    decoding: Literal["constrained", "schema", "free"] = Field(
        "constrained",
        description="How local models answer. constrained: greedy under the task's JSON Schema, "
        "as every serving engine decodes (the scores are those of what is served), spans "
        "(x-mkd-span strings) copied from the query; schema: the same without span copying "
        "(serving.student.copy_spans false); free: plain "
        "greedy generate (shows how often the model alone breaks the contract). GPU cluster: "
        "constrained.",
    )
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto",
        description="Weights and compute dtype of local models, as the Serve Student's default: "
        "auto is bfloat16 where the CPU has bf16 instructions, float32 elsewhere (what bf16 "
        "changes in the answers: docs/serving.md). GPU cluster: bfloat16.",
    )
    compare_base: bool = Field(True, description="Also run the untouched base model (low bar).")
    base_fewshot: bool = Field(
        True,
        description="Also run the base model with the teacher's few-shot prompt, reported "
        "separately from the base with the student's short prompt.",
    )
    compare_teacher: bool = Field(
        True,
        description="Run the teacher live on the split (agreement, latency, tokens). Off: the "
        "dataset labels stand in for its answers.",
    )
    gold_field: str = Field(
        "reviewed",
        description="A record whose field of this name is true (or 'accepted'/'corrected') is "
        "human-reviewed gold; every model is also scored on those items.",
    )
    default_gate: TaskGate = Field(default_factory=TaskGate)
    gates: dict[str, TaskGate] = Field(
        default_factory=dict, description="Per-task gates overriding default_gate."
    )
    prices: dict[str, ModelPrice] = Field(
        default_factory=_default_prices,
        description="Price per model role (teacher, student, base) for cost per 1k queries.",
    )
    teacher_size: str = Field(
        "~16 GB (an 8B-class teacher in bf16)",
        description="The teacher's size for the before/after table (a hosted API has no file).",
    )
    register_as: str | None = Field(
        None, description="Registry name for the candidate. None: `<pipeline name>-student`."
    )
    ray_address: str | None = Field(
        None,
        description="Ray cluster for batch prediction (Ray Data). None: predict in-process. "
        "GPU cluster: auto (the RayJob's cluster).",
    )
    actor_num_cpus: float = Field(
        0.5, gt=0, description="CPUs per prediction actor (fractional: 2 CPUs never deadlock)."
    )
    actor_num_gpus: float = Field(0.0, ge=0, description="GPUs per prediction actor. GPU: 1.")

    def gate_for(self, task: str) -> TaskGate:
        return self.gates.get(task, self.default_gate)
