"""Typed arguments of the Serve application (`build_app(args)`) and the live router config.

One structure serves Python callers, `serve run`/`serve deploy` YAML and a KubeRay RayService's
serveConfigV2: `applications[].args` validates as `AppArgs`; `deployments[Router].user_config`
validates as `RouterConfig` and changes live through `reconfigure()` (no replica restart).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from mkd.config.base import Section
from mkd.config.guards import GuardsConfig
from mkd.config.pipeline import DEFAULT_PACK
from mkd.config.store import StoreConfig
from mkd.config.teacher import TeacherConfig
from mkd.inference.base import Runtime
from mkd.models.uris import DEFAULT_STUDENT_URI
from mkd.registry import REF_FORMS, RegistryError, parse_ref
from mkd.tasks import load_pack


class StudentArgs(Section):
    """The student deployment: what to load, with which engine, and how to batch."""

    model_uri: str | None = Field(
        None,
        description=f"Base model URI (mkd.models.uris). None with no `version`: {DEFAULT_STUDENT_URI}. "
        "Cluster: the exported registry artifact, via `version` instead.",
    )
    version: str | None = Field(
        None,
        description=f"Registry reference {REF_FORMS}; resolved through mkd.registry (store) "
        "and wins over model_uri/adapter.",
    )
    allow_unpromoted: bool = Field(
        False,
        description="Load a registry version whose gates did not pass even when the student "
        "takes traffic (forced; logged). Chart: serving.student.allowUnpromoted.",
    )
    shadow_only: bool = Field(
        False,
        description="The Router starts with no student traffic (shadow mode or weight 0 on every "
        "task): any registry version may load, gates passed or not. The chart and `mkd serve` "
        "derive it from the Router's user_config; False: the version must have passed its gates.",
    )
    adapter: str | None = Field(None, description="Directory of a PEFT LoRA adapter over the base.")
    task_adapters: dict[str, str] = Field(
        default_factory=dict,
        description="Per-task adapter directories (multi-LoRA: one batch mixes adapters). Tasks "
        "not listed use `adapter`.",
    )
    backend: Literal["transformers", "llamacpp", "vllm"] = Field(
        "transformers",
        description="transformers (CPU here; PEFT adapters), llamacpp (GGUF, CPU/edge default once "
        "exported), vllm (GPU cluster: vLLM's async engine, continuous batching, multi-LoRA, "
        "quantized weights, structured outputs).",
    )
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto",
        description="Weights and compute dtype (transformers). auto: bfloat16 where the CPU has "
        "bf16 instructions (AVX-512-BF16, AMX), float32 elsewhere; what bf16 changes in the "
        "answers is measured in docs/serving.md. GPU (vllm): bfloat16.",
    )
    quantization: Literal["int8"] | None = Field(
        "int8",
        description="int8: decode forwards read per-channel int8 weights (the lean runtime with "
        "bfloat16 compute; with float32 it is ignored). None: the dtype's weights throughout.",
    )
    runtime: Runtime = Field(
        "auto",
        description="Constrained decoding through mkd's lean Llama forward (lean), transformers' "
        "modules (transformers) or lean where it reproduces the model (auto).",
    )
    max_batch_size: int = Field(
        8,
        ge=1,
        le=512,
        description="@serve.batch size (transformers, llamacpp). vllm: unused, every request goes "
        "to the engine as it arrives (bound the requests decoded together with "
        "vllm.max_num_seqs).",
    )
    batch_wait_timeout_s: float = Field(
        0.005,
        ge=0,
        le=1,
        description="How long a @serve.batch batch waits to fill (transformers, llamacpp). "
        "vllm: unused.",
    )
    max_new_tokens: int | None = Field(
        None, ge=1, le=2048, description="Answer cap; None uses each task's max_output_tokens."
    )
    jump_forward: bool = Field(
        True,
        description="Skip tokens the schema fixes and pick enum values in as few forwards as "
        "possible (transformers backend). False: one forward per token (the baseline).",
    )
    copy_spans: bool = Field(
        True,
        description="Write the strings a task schema marks x-mkd-span (entity names, date "
        "phrases) as exact spans of the query (transformers backend). Cluster: true.",
    )
    torch_threads: int = Field(
        1, ge=1, le=256, description="torch intra-op threads per replica (CPU). GPU: unused."
    )
    num_replicas: int = Field(1, ge=1, description="Student replicas. Cluster: one per GPU.")
    ray_actor_options: dict[str, Any] = Field(
        default_factory=lambda: {"num_cpus": 0.5},
        description="Ray actor options per replica; fractional CPUs on a 2-core machine. "
        'Cluster: {"num_gpus": 1}.',
    )
    max_ongoing_requests: int = Field(
        32, ge=1, description="Requests a replica accepts at once (>= max_batch_size)."
    )
    max_pending_answers: int | None = Field(
        None,
        ge=-1,
        description="Answers (one per task of a request) the Routers keep at the Student at "
        "once, decoding or waiting for a batch, each Router replica its share (rounded up); "
        "past it the Router answers from the teacher (route `shed`, mkd_student_shed_total) "
        "instead of letting latency grow. None: one batch per Student replica (max_batch_size x "
        "num_replicas; vllm: vllm.max_num_seqs x num_replicas), so an admitted answer waits for "
        "at most the batch being decoded. -1: no cap. Cluster: None.",
    )
    max_queued_requests: int = Field(
        16,
        ge=-1,
        description="Serve's own back-pressure, behind max_pending_answers: requests a Router "
        "replica lets wait for a Student replica once every one holds max_ongoing_requests; "
        "past it Serve refuses the call and the Router sheds it to the teacher. -1: unbounded "
        "(0 is not allowed). Cluster: about what the replicas drain within student_timeout_s.",
    )
    vllm: dict[str, Any] = Field(
        default_factory=dict,
        description="Extra vLLM AsyncEngineArgs (gpu_memory_utilization, max_num_seqs, "
        "quantization, max_lora_rank, max_model_len...). Cluster only.",
    )
    llamacpp: dict[str, Any] = Field(
        default_factory=dict, description="Extra llama_cpp.Llama arguments (n_threads, n_ctx...)."
    )
    name: str = Field("mkd-student", description="Model name reported in responses.")
    cache_dir: str | None = Field(
        None,
        description="Root of the private (0700) cache of registry files served by `version`; "
        "files are verified against the manifest's sha256 before every load. None: "
        "$MKD_SERVE_CACHE_DIR, else <tempdir>/mkd-serve-cache-<uid>.",
    )

    @field_validator("version")
    @classmethod
    def _version_is_a_pinned_ref(cls, version: str | None) -> str | None:
        if version is None:
            return None
        try:
            parse_ref(version, pinned=True)
        except RegistryError as exc:
            raise ValueError(str(exc)) from None
        return version.strip()

    @field_validator("max_queued_requests", "max_pending_answers")
    @classmethod
    def _a_cap_or_unbounded(cls, cap: int | None) -> int | None:
        # 0 would refuse every request (Serve refuses it at deploy time): say so when read
        if cap == 0:
            raise ValueError("must be -1 (unbounded) or at least 1, not 0")
        return cap

    @property
    def base_uri(self) -> str:
        return self.model_uri or DEFAULT_STUDENT_URI


class ServeTeacherArgs(TeacherConfig):
    """The teacher deployment: a TeacherBackend built from the pipeline's teacher settings.

    Adds `stub` (a fixed schema-valid answer per task, for smoke tests and benchmarks where the
    teacher's quality does not matter) and a simulated latency.
    """

    backend: Literal["openai", "vllm", "hf", "reference", "stub"] = Field(  # type: ignore[assignment]
        "reference",
        description="reference: the in-process deterministic labeler (CPU default); openai: an "
        "OpenAI-compatible endpoint (production); stub: fixed answers; vllm/hf: local models.",
    )
    added_latency_s: float = Field(
        0.0,
        ge=0,
        le=60,
        description="Extra delay per call, to emulate a remote teacher. Cluster: 0.",
    )
    num_replicas: int = Field(1, ge=1, description="Teacher deployment replicas.")
    ray_actor_options: dict[str, Any] = Field(
        default_factory=lambda: {"num_cpus": 0.1}, description="Ray actor options per replica."
    )
    max_ongoing_requests: int = Field(64, ge=1, description="Requests a replica accepts at once.")

    def backend_config(self) -> TeacherConfig:
        """The pipeline-level TeacherConfig this deployment wraps (serving-only fields dropped)."""
        fields = {k: v for k, v in self.model_dump().items() if k in TeacherConfig.model_fields}
        if fields["backend"] == "stub":
            fields["backend"] = "reference"
        return TeacherConfig.model_validate(fields)


class TaskOverride(Section):
    """A per-task exception to the global mode and weight."""

    mode: Literal["split", "shadow"] | None = Field(None, description="None: the global mode.")
    student_weight: float | None = Field(
        None, ge=0, le=1, description="None: the global student_weight."
    )


class RollbackPolicy(Section):
    """Sliding-window rollback: the router sets the student's weight to 0 when a gate fails."""

    enabled: bool = Field(True, description="Roll back automatically.")
    window: int = Field(100, ge=1, description="Student attempts in the sliding window.")
    min_samples: int = Field(
        20, ge=1, description="Attempts needed before rate gates apply (agreement: mirrored pairs)."
    )
    min_agreement: float = Field(
        0.8, ge=0, le=1, description="Mean student-vs-teacher score on mirrored requests."
    )
    min_agreement_samples: int = Field(
        10, ge=1, description="Mirrored pairs before agreement gates."
    )
    max_fallback_rate: float = Field(
        0.2, ge=0, le=1, description="Share of student attempts answered by the teacher instead."
    )
    max_error_rate: float = Field(
        0.1, ge=0, le=1, description="Share of student attempts that raised or timed out."
    )
    max_p95_s: float = Field(
        10.0,
        gt=0,
        description="Latency gate, absolute bound: the student is rolled back when its p95 "
        "latency (seconds per student call, over the window's last `window` calls, once "
        "`min_samples` are in) exceeds this AND max_latency_ratio x the teacher's p95. The "
        "default suits a CPU student (seconds per answer); GPU cluster: 1.0.",
    )
    max_latency_ratio: float = Field(
        2.0,
        ge=1,
        description="Latency gate, relative bound: student p95 over teacher p95 (teacher calls in "
        "the same window). Applies only when the window holds teacher samples; without any, "
        "max_p95_s alone decides. Cluster: 2.0 (a remote teacher takes ~1 s).",
    )


class RouterConfig(Section):
    """The Router's live settings (`user_config`): changed by `mkd rollout set` without restarts."""

    mode: Literal["split", "shadow"] = Field(
        "shadow",
        description="split: student_weight of traffic goes to the student; shadow: the teacher "
        "answers, the student runs in the background and the pair is scored.",
    )
    student_weight: float = Field(0.0, ge=0, le=1, description="Canary share in split mode.")
    task_overrides: dict[str, TaskOverride] = Field(
        default_factory=dict, description="Per-task mode/weight, e.g. {query_classifier: {...}}."
    )
    sticky_header: str = Field(
        "X-MKD-User",
        pattern=r"^[A-Za-z0-9-]+$",
        description="Requests with the same value of this header take the same route.",
    )
    mirror_fraction: float = Field(
        0.1,
        ge=0,
        le=1,
        description="Share of student-routed requests also sent to the teacher "
        "(in the background) to measure agreement.",
    )
    student_timeout_s: float = Field(
        20.0, gt=0, description="Past this the teacher answers instead (fallback). GPU: 2."
    )
    shadow_concurrency: int = Field(
        8, ge=1, description="Background shadow/mirror calls in flight; more are skipped (counted)."
    )
    rollback: RollbackPolicy = Field(default_factory=RollbackPolicy)
    rollback_clear_id: str = Field(
        "",
        max_length=128,
        description="Changing it (to any new value) lifts an automatic rollback and starts a fresh "
        "window: `mkd rollout clear` sets a new one. Other changes (weights, modes, policy) keep "
        "both the rollback and the window's samples.",
    )

    def student_takes_traffic(self, tasks: list[str] | None = None) -> bool:
        """Whether user traffic reaches the student: split mode with a weight above 0 for any of
        `tasks` (None: the global setting or any override). Shadow, or weight 0, takes none."""
        if tasks:
            routes = [self.for_task(t) for t in tasks]
        else:
            routes = [(self.mode, self.student_weight)]
            routes += [self.for_task(t) for t in self.task_overrides]
        return any(mode == "split" and weight > 0 for mode, weight in routes)

    def for_task(self, task: str) -> tuple[str, float]:
        """The (mode, student_weight) in force for `task`."""
        override = self.task_overrides.get(task)
        mode = (override.mode if override else None) or self.mode
        weight = (
            override.student_weight if override and override.student_weight is not None else None
        )
        return mode, self.student_weight if weight is None else weight


class StudentLiveConfig(Section):
    """The Student's live settings (`user_config`): a fault switch for rollback drills."""

    fault: Literal["none", "error", "invalid", "slow"] = Field(
        "none",
        description="Deliberately break the student: error raises, invalid returns a "
        "schema-invalid answer, slow sleeps slow_s. Production: none.",
    )
    slow_s: float = Field(30.0, ge=0, description="Delay of the `slow` fault.")


class AuthArgs(Section):
    token_env: str | None = Field(
        "MKD_SERVE_TOKEN",
        description="Environment variable (in the Router's process) holding the bearer token; "
        "unset or empty: no auth. Cluster: from a Kubernetes Secret.",
    )


class LimitArgs(Section):
    """Request limits; a request past one gets a 4xx naming the limit."""

    max_body_bytes: int = Field(65536, ge=256, description="Largest accepted request body.")
    max_input_chars: int = Field(2000, ge=1, description="Longest accepted `input`.")
    max_context_keys: int = Field(16, ge=0, description="Most keys in `context`.")
    required_context: list[str] = Field(
        default_factory=list, description='Context fields every request must carry, e.g. ["as_of"].'
    )


class RouterArgs(Section):
    num_replicas: int = Field(
        1,
        ge=1,
        description="Router replicas. Each keeps its own window; a rollback any of them decides "
        "is shared by all (serving.rollout_state).",
    )
    state_poll_s: float = Field(
        0.5,
        gt=0,
        le=10,
        description="How often each Router replica reads the shared rollout state (a rollback "
        "another replica decided reaches this one within it).",
    )
    ray_actor_options: dict[str, Any] = Field(
        default_factory=lambda: {"num_cpus": 0.1}, description="Ray actor options per replica."
    )
    max_ongoing_requests: int = Field(200, ge=1, description="Requests a replica accepts at once.")
    user_config: RouterConfig = Field(
        default_factory=RouterConfig,
        description="Initial live settings; deployments[Router].user_config in a Serve config "
        "overrides it.",
    )


class CaptureArgs(Section):
    """The feedback log (serving/capture.py): teacher answers the Router obtains, kept in the
    store for the next dataset version."""

    enabled: bool = Field(
        False, description="Write shadow, mirror and fallback pairs to feedback/. Cluster: true."
    )
    sample_rate: float = Field(
        1.0, ge=0, le=1, description="Share of those pairs kept (each drawn independently)."
    )
    flush_interval_s: float = Field(
        10.0, gt=0, le=3600, description="Seconds between writes of the buffered entries."
    )
    max_entries_per_object: int = Field(1000, ge=1, description="Entries per stored object.")
    max_object_bytes: int = Field(
        1_048_576, ge=1024, description="Bytes per stored object (a batch is split past it)."
    )
    max_pending: int = Field(
        10_000,
        ge=1,
        description="Entries buffered in a Router replica at most; past it new ones are dropped "
        "and counted (mkd_capture_dropped_total) rather than growing memory while the store is down.",
    )
    retention_days: int = Field(
        90, ge=0, description="Day folders older than this are deleted (0: keep everything)."
    )


class AppArgs(Section):
    """Everything `serving.app:build_app` takes (Serve YAML `args:`)."""

    pack: str = Field(DEFAULT_PACK, description="Task pack: a shipped pack name or a directory.")
    tasks: list[str] = Field(
        default_factory=list, description="Served tasks (empty: every task of the pack)."
    )
    student: StudentArgs = Field(default_factory=StudentArgs)
    teacher: ServeTeacherArgs = Field(default_factory=ServeTeacherArgs)
    router: RouterArgs = Field(default_factory=RouterArgs)
    auth: AuthArgs = Field(default_factory=AuthArgs)
    limits: LimitArgs = Field(default_factory=LimitArgs)
    store: StoreConfig = Field(
        default_factory=StoreConfig,
        description="Artifact store holding the registry (student.version). Cluster: s3://...",
    )
    capture: CaptureArgs = Field(default_factory=CaptureArgs)
    guards: GuardsConfig = Field(
        default_factory=GuardsConfig,
        description="The guard chain (mkd.guards); give it the pipeline's `guards` section so that "
        "labeling and serving apply the same guards.",
    )

    @field_validator("pack")
    @classmethod
    def _pack_exists(cls, pack: str) -> str:
        try:
            load_pack(pack)
        except (FileNotFoundError, ValueError) as exc:
            raise ValueError(str(exc)) from None
        return pack

    @model_validator(mode="after")
    def _tasks_in_pack(self) -> AppArgs:
        known = load_pack(self.pack).tasks
        bad = [t for t in self.tasks if t not in known]
        if bad:
            raise ValueError(f"tasks: unknown task(s) {bad} (pack {self.pack!r} has {list(known)})")
        self.tasks = self.tasks or list(known)
        return self
