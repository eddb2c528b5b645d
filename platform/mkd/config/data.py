"""The data section: curated prompts -> augmentation -> labeling -> review -> splits."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from mkd.config.base import Section


class AugmentConfig(Section):
    """Synthetic variations of each curated prompt (deterministic under `seed`)."""

    enabled: bool = Field(True, description="Off: label the curated prompts only.")
    variations_per_prompt: int = Field(
        8, ge=0, description="Variations made per curated prompt before de-duplication."
    )
    near_dup_threshold: float = Field(
        0.9,
        gt=0,
        le=1,
        description="Character 5-gram Jaccard at or above which two prompts count as one.",
    )
    operators: list[str] = Field(
        default_factory=lambda: [
            "entity_swap",
            "metric_synonym",
            "metric_swap",
            "number_unit",
            "time_shift",
            "date_swap",
            "rephrase",
        ],
        description="Variation operators to use (paraphrase: LLM paraphrases via the teacher; "
        "company_invent: invented company names, off by default; date_swap: a time phrase of "
        "another kind, docs/training.md).",
    )
    paraphrases_per_prompt: int = Field(
        0, ge=0, description="LLM paraphrases per prompt through the teacher (cluster: 2)."
    )


class SplitConfig(Section):
    """Train/val/test fractions. Families (a curated prompt and its variations) never straddle."""

    train: float = Field(0.8, gt=0, lt=1)
    val: float = Field(0.1, ge=0, lt=1)
    test: float = Field(0.1, gt=0, lt=1)

    @model_validator(mode="after")
    def _sum_to_one(self) -> SplitConfig:
        total = self.train + self.val + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"train + val + test must be 1.0, got {total:g}")
        return self


class LogImportConfig(Section):
    """`mkd data import-logs`: OpenAI chat-completions logs of the teacher as labeled records.

    Each JSONL line holds `request` (the chat-completions body: model, messages), `response`
    (the completion, or `{status_code, body}` as the Batch API writes it) and optional
    `metadata`. The defaults read the logs of MKD's own teacher calls with the task in
    metadata.task; a proxy's logs usually need `task_from: model` or `system`.
    """

    task_from: Literal["field", "model", "system"] = Field(
        "field",
        description="How a line names its task: a field of the line (task_field), the request's "
        "model (model_tasks), or a pattern over the system message (system_pattern).",
    )
    task_field: str = Field(
        "metadata.task",
        description="Dotted path of the task name in a log line (task_from: field).",
    )
    model_tasks: dict[str, str] = Field(
        default_factory=dict,
        description="Request model -> task (task_from: model), e.g. {fin-classify: query_classifier}.",
    )
    system_pattern: str = Field(
        r"\[task:\s*(?P<task>[a-z_]+)\]",
        description="Regex with a `task` group searched in the system message (task_from: system).",
    )
    query_pattern: str = Field(
        r"(?s)^(?:Query: )?(?P<query>.+?)(?:\nas_of: (?P<as_of>\d{4}-\d{2}-\d{2}))?\s*$",
        description="Regex over the last user message with a `query` group (and an optional "
        "`as_of` group); the default reads MKD's teacher prompt and plain messages alike.",
    )
    as_of_field: str = Field(
        "metadata.as_of",
        description="Dotted path of the query's as_of date when the message has none; else the "
        "response's `created` day (UTC), else the pack's default.",
    )


class DataConfig(Section):
    """Where prompts come from, how they are varied and labeled, and what dataset they become."""

    curated: str = Field(
        "pack://data/curated.jsonl",
        description="Curated prompts: pack://RELATIVE (inside the task pack), a local path, or a "
        "store key (store://KEY). Lines: {id, input, source, category_hint}.",
    )
    gazetteers: str = Field(
        "pack://data/gazetteers.yaml", description="Entity lists used by entity swaps."
    )
    dataset: str = Field("finance", description="Dataset name under datasets/ in the store.")
    version: str = Field(
        "v1", description="Dataset version; immutable once its manifest is written."
    )
    parent: str | None = Field(
        None, description="Parent dataset as NAME/VERSION, recorded in the manifest for lineage."
    )
    augment: AugmentConfig = Field(default_factory=AugmentConfig)
    splits: SplitConfig = Field(default_factory=SplitConfig)
    log_import: LogImportConfig = Field(default_factory=LogImportConfig)
    review_sample_per_task: int = Field(
        40, ge=0, description="Items per task in a review export, stratified by label."
    )
    label_cache: bool = Field(
        True, description="Reuse labels from label-cache/ in the store (resume, re-runs)."
    )
    actors: int = Field(
        2, ge=1, description="Labeling actors (Ray Data map_batches concurrency; cluster: 8-32)."
    )
    actor_num_cpus: float = Field(
        0.5,
        gt=0,
        description="CPUs per labeling actor. Fractional so 2 CPUs never deadlock (cluster: 1).",
    )
    actor_num_gpus: float = Field(
        0.0, ge=0, description="GPUs per actor: 0 here; 1 for the vllm/hf backends on GPU nodes."
    )
    batch_size: int = Field(
        256,
        ge=1,
        description="Items per map_batches call. Each call waits for its slowest answer, so a "
        "batch of several rounds of teacher.concurrency keeps requests in flight "
        "(docs/measurements.md).",
    )
    max_input_chars: int = Field(
        4000, ge=1, description="Longer prompts are quarantined instead of sent to the teacher."
    )
    ray_address: str | None = Field(
        None, description="Ray cluster address; None starts Ray locally on loopback."
    )
