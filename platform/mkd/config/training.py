"""The `training` section: student base model, LoRA, optimizer, batching, Ray Train scaling.

Every default works on a 2-core CPU with SmolLM2-135M (the demo's profiles in
mkd/pipeline/profiles/ override a few); descriptions name the GPU-cluster value where it differs
(Llama 3.1 8B with QLoRA/Unsloth).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from mkd.config.base import Section
from mkd.models.uris import DEFAULT_STUDENT_URI


class LoraSettings(Section):
    """PEFT LoRA adapter settings."""

    r: int = Field(16, ge=1, le=1024, description="LoRA rank. GPU cluster (8B): 16-64.")
    alpha: int = Field(32, ge=1, description="LoRA alpha (scale = alpha / r).")
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="LoRA dropout; 0.05 on large datasets.")
    target_modules: str | list[str] = Field(
        "all-linear",
        description="Modules that get adapters: 'all-linear' (every linear layer but the LM "
        "head) or a list such as [q_proj, v_proj].",
    )
    top_layers: int = Field(
        0,
        ge=0,
        description="Adapters on the top N decoder layers only (0 = every layer). The layers "
        "below stay frozen and need no backward pass, which makes a step cheaper on a CPU; what "
        "it costs in agreement is measured in docs/training.md. GPU cluster: 0.",
    )


class OptimizerSettings(Section):
    """AdamW with linear warm-up then cosine decay."""

    lr: float = Field(
        6e-4,
        gt=0.0,
        le=1.0,
        description="Peak learning rate. Too high and the student's one-token decisions (is the "
        "date list empty?) follow each batch's majority instead of the query; too low and the "
        "classifier under-fits (the runs: docs/training.md, 'Packing and the learning rate'). "
        "GPU cluster (8B QLoRA): 2e-4.",
    )
    weight_decay: float = Field(0.0, ge=0.0, le=1.0, description="AdamW weight decay.")
    warmup_steps: int = Field(10, ge=0, description="Linear warm-up steps before cosine decay.")
    cosine: bool = Field(True, description="Cosine decay to min_lr_ratio after warm-up.")
    min_lr_ratio: float = Field(0.1, ge=0.0, le=1.0, description="Final lr as a share of lr.")
    betas: tuple[float, float] = Field((0.9, 0.999), description="AdamW betas.")


class MixingSettings(Section):
    """How the tasks share the training steps."""

    strategy: Literal["temperature", "weights", "proportional"] = Field(
        "temperature",
        description="temperature: p_t ∝ n_t^(1/T); weights: explicit per-task weights; "
        "proportional: as in the dataset.",
    )
    temperature: float = Field(
        2.0, ge=1.0, le=100.0, description="T for temperature sampling (1 = proportional)."
    )
    weights: dict[str, float] = Field(
        default_factory=dict, description="Per-task weights (strategy 'weights'); missing = 1."
    )
    decision_balance: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="alpha of decision-balanced loss weights (mkd.training.balance): an example "
        "whose first decision (currency mention, category, empty list or not) has share s of "
        "its task weighs s^-alpha. 0 = off; 1 = every decision class the same total weight. "
        "GPU cluster: as measured on the pack (docs/training.md).",
    )
    error_weighting: float = Field(
        0.0,
        ge=0.0,
        le=4.0,
        description="power of per-task loss weights from validation error "
        "(mkd.training.error_weights): after each validation a task's loss weight is its mixing "
        "weight times (1 - val agreement)^power, normalised to mean 1. 0 = off (static weights). "
        "GPU cluster: as measured on the pack (docs/training.md).",
    )


class ScalingSettings(Section):
    """Ray Train ScalingConfig."""

    num_workers: int = Field(1, ge=1, description="Training workers. GPU cluster: one per GPU.")
    use_gpu: bool = Field(False, description="GPU workers (NCCL). True on GPU nodes.")
    cpus_per_worker: float = Field(
        1.0, gt=0.0, description="CPUs reserved per worker (torch uses torch_threads)."
    )
    gpus_per_worker: float = Field(1.0, ge=0.0, description="GPUs per worker when use_gpu.")
    torch_threads: int = Field(
        0, ge=0, description="torch intra-op threads in a worker; 0 = every core of the node."
    )
    omp_wait_policy: Literal["PASSIVE", "ACTIVE", ""] = Field(
        "PASSIVE",
        description="OMP_WAIT_POLICY of each worker. OpenMP's default makes idle threads spin; "
        "with two threads on a shared node, a thread preempted by another process (the teacher "
        "server, Ray's own daemons) then stalls its partner at every parallel op. PASSIVE "
        "threads sleep. '' leaves the environment's value. GPU cluster: PASSIVE.",
    )
    resources_per_worker: dict[str, float] = Field(
        default_factory=dict, description="Extra custom Ray resources per worker."
    )


class TrainingConfig(Section):
    """Student training: LoRA on the base model, the loop's knobs and Ray Train's settings."""

    base_model: str = Field(
        DEFAULT_STUDENT_URI,
        description="Base model URI (gguf+pkg://, hf://, local dir or .gguf). GPU cluster: "
        "hf://meta-llama/Llama-3.1-8B (with backend qlora or unsloth).",
    )
    dataset: str = Field(
        "latest",
        description="Dataset: a version in the store (datasets/<name>/<version>), 'latest', or "
        "a local directory holding train.jsonl and val.jsonl.",
    )
    tasks: list[str] | None = Field(
        None, description="Tasks to train; None = the pipeline's tasks."
    )
    backend: Literal["torch", "qlora", "unsloth"] = Field(
        "torch",
        description="torch: full-precision base + PEFT (CPU, here). qlora: bitsandbytes nf4 "
        "base. unsloth: FastLanguageModel 4-bit (GPU nodes).",
    )
    deepspeed_stage: Literal[0, 2, 3] = Field(
        0, description="DeepSpeed ZeRO stage for multi-GPU (0 = off; 2 or 3 on GPU clusters)."
    )
    init_adapter: str | None = Field(
        None,
        description="Warm start: load this registry version's LoRA weights (NAME:VERSION or "
        "NAME@STAGE, an adapter variant) before training, instead of fresh LoRA weights. Its "
        "rank and target modules must match `lora`. Recorded in the run's manifest. None: a "
        "fresh adapter. `mkd loop` sets it to the current version.",
    )
    lora: LoraSettings = Field(default_factory=LoraSettings)
    optimizer: OptimizerSettings = Field(default_factory=OptimizerSettings)
    mixing: MixingSettings = Field(default_factory=MixingSettings)
    scaling: ScalingSettings = Field(default_factory=ScalingSettings)
    batch_size: int = Field(
        4,
        ge=1,
        le=4096,
        description="Rows per micro-batch per worker: queries (with all their tasks) under "
        "packing shared_prefix, single examples otherwise. GPU (8B): 8-16.",
    )
    grad_accum: int = Field(1, ge=1, le=1024, description="Micro-batches per optimizer step.")
    max_steps: int = Field(
        170,
        ge=0,
        description="Optimizer steps; 0 = run `epochs` epochs. GPU cluster: 0 with epochs=2-3.",
    )
    epochs: float = Field(1.0, gt=0.0, le=100.0, description="Epochs when max_steps is 0.")
    budget_minutes: float | None = Field(
        None,
        gt=0.0,
        description="Train for this many minutes of the loop's wall time (validation included) "
        "instead of a step count: the lr schedule decays over the budget, the run stops after "
        "the step that reaches it, then keeps its best validation point (restore_best) and "
        "writes a full checkpoint. max_steps / epochs stay an upper bound. None: steps decide. "
        "GPU cluster: null (epochs decide).",
    )
    early_stopping_metric: Literal["agreement", "loss"] = Field(
        "agreement",
        description="What ranks validation points (best checkpoint, early stopping, "
        "restore_best): agreement = per-task share of val answers the model reproduces exactly "
        "under greedy decoding (read off one teacher-forced forward: greedy decoding writes "
        "the label iff every label token is the argmax), averaged over tasks; loss = val loss.",
    )
    restore_best: bool = Field(
        True,
        description="At the end, put back the adapter of the best validation point (kept in "
        "memory since it was measured) before the final checkpoint, if the evidence holds "
        "(restore_best_p).",
    )
    restore_best_p: float = Field(
        0.05,
        gt=0.0,
        le=1.0,
        description="With early_stopping_metric agreement, an earlier best point replaces the "
        "last one only if an exact sign test over the val answers the two disagree on gives "
        "p below this (mkd.training.restore): a small slice's few answers are noise, and the "
        "last point has trained longest. 1.0 restores any better point. GPU cluster: 0.05.",
    )
    max_seq_len: int = Field(
        256, ge=16, le=131072, description="Longer examples are truncated (answer kept)."
    )
    precision: Literal["auto", "bf16", "fp32"] = Field(
        "auto",
        description="dtype of the frozen base weights on a CPU (LoRA weights and optimizer state "
        "stay fp32): auto = bf16 where the processor has AVX-512-BF16 or AMX (read at run time, "
        "logged in the run manifest), fp32 elsewhere, where PyTorch's bf16 matmul falls back to "
        "a slow kernel. fp32 forces full precision. GPU cluster: ignored (bf16 on CUDA).",
    )
    autocast: Literal["auto", "bf16", "off"] = Field(
        "auto",
        description="bf16 autocast: auto = on for CUDA with native bf16, off otherwise (on a CPU, "
        "autocast re-casts the frozen fp32 weights at every forward: use `precision` there). "
        "GPU cluster: auto.",
    )
    grad_clip: float = Field(1.0, ge=0.0, description="Max gradient norm (0 = no clipping).")
    eval_every: int = Field(50, ge=0, description="Val loss every N steps (0 = only at the end).")
    eval_batches: int = Field(
        8,
        ge=1,
        description="Val micro-batches per evaluation (a fixed slice: whole queries spread over "
        "the split when packed, else task-stratified examples).",
    )
    early_stopping_patience: int = Field(
        0, ge=0, description="Stop after N evaluations without val-loss gain (0 = never)."
    )
    bucketing: Literal["length", "none"] = Field(
        "length", description="length: batches of similar length (padding waste < 15%)."
    )
    packing: Literal["shared_prefix", "none"] = Field(
        "shared_prefix",
        description="shared_prefix: one row per query holding the prompt prefix its tasks share "
        "once, then each task's tag and answer (a block mask keeps the tasks apart): "
        "batch_size then counts queries, and task mixing becomes per-task loss weights; faster "
        "at identical losses (docs/measurements.md). none: one row "
        "per (query, task). GPU cluster: shared_prefix (torch, qlora); none with unsloth.",
    )
    pad_to_multiple_of: int = Field(
        1,
        ge=1,
        le=256,
        description="Pad each micro-batch's length up to a multiple of this. GPU cluster: 16 "
        "(every new length makes cuDNN attention build a plan: docs/measurements.md); 1 on CPU, "
        "where padding is pure waste.",
    )
    checkpoint_every: int = Field(50, ge=1, description="Checkpoint every N optimizer steps.")
    keep_best_k: int = Field(2, ge=1, description="Checkpoints kept (best val loss + latest).")
    max_failures: int = Field(
        1, ge=0, description="Worker-group restarts from the last checkpoint (Ray FailureConfig)."
    )
    seed: int | None = Field(None, description="Training seed; None = the pipeline's seed.")
    ray_address: str | None = Field(
        None,
        description="Ray cluster address; None starts Ray locally on loopback (in a "
        "RayJob on the cluster, the job's own cluster is used).",
    )
    log_every: int = Field(5, ge=1, description="Metrics line every N steps.")

    @model_validator(mode="after")
    def _coherent(self) -> TrainingConfig:
        if (
            self.optimizer.warmup_steps
            and self.max_steps
            and self.optimizer.warmup_steps >= self.max_steps
        ):
            raise ValueError(
                f"optimizer.warmup_steps: {self.optimizer.warmup_steps} must be < max_steps "
                f"({self.max_steps})"
            )
        if self.mixing.strategy == "weights" and any(w < 0 for w in self.mixing.weights.values()):
            raise ValueError("mixing.weights: weights must be >= 0")
        if self.backend == "unsloth" and not self.scaling.use_gpu:
            raise ValueError("backend: 'unsloth' needs scaling.use_gpu: true (GPU nodes)")
        if self.backend == "unsloth" and self.packing == "shared_prefix":
            raise ValueError(
                "packing: 'shared_prefix' needs a custom 4D attention mask, which Unsloth's "
                "attention kernels do not take: set packing: none with backend unsloth"
            )
        if self.deepspeed_stage and not self.scaling.use_gpu:
            raise ValueError("deepspeed_stage: DeepSpeed needs scaling.use_gpu: true")
        return self
