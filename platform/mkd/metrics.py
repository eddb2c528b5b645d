"""Every `mkd_*` metric in one place, recorded through Ray and into a local prometheus_client registry.

Ray side: inside a Ray worker each metric is a `ray.serve.metrics` metric (a Serve replica adds
the deployment, replica and application tags) or a `ray.util.metrics` one (a job's task);
the node's metrics agent exports them on Ray's metrics port (8080 on the chart's pods) with
Ray's `ray_` namespace in front: `mkd_requests_total` is scraped as `ray_mkd_requests_total`.
That is the series the chart's monitors, dashboard and alerts use.

Local side: the same values go to a prometheus_client registry of the process, so the Router's
`/metrics` route (one replica's view, for debugging) and the guard CLI keep reading them
without a Ray cluster.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, Literal

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

Kind = Literal["counter", "gauge", "histogram"]
RAY_NAMESPACE = "ray_"  # what Ray's exporter puts in front of every application metric

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
# Ray refuses a boundary of 0: a score under 0.01 counts as a total miss.
AGREEMENT_BUCKETS = (0.01, 0.25, 0.5, 0.75, 0.9, 1.0)
GUARD_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.1)
BATCH_SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64)


@dataclass(frozen=True)
class Spec:
    """One metric: its name (counters end in `_total`, as Prometheus shows them), help, labels."""

    name: str
    help: str
    kind: Kind
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] = ()

    @property
    def exported(self) -> str:
        """The name Prometheus stores when it scrapes Ray's metrics port."""
        return RAY_NAMESPACE + self.name


def _spec(name: str, doc: str, kind: Kind, *labels: str, buckets: tuple = ()) -> Spec:
    return Spec(name, doc, kind, labels, buckets)


# Router (serving/router.py)
REQUESTS = _spec("mkd_requests_total", "Answered requests.", "counter", "task", "route", "status")
LATENCY = _spec(
    "mkd_request_latency_seconds",
    "Latency of answered task requests.",
    "histogram",
    "task",
    "route",
    buckets=LATENCY_BUCKETS,
)
FALLBACKS = _spec(
    "mkd_fallbacks_total", "Student attempts answered by the teacher.", "counter", "task", "reason"
)
STUDENT_SHED = _spec(
    "mkd_student_shed_total",
    "Answers not asked of the Student because it was full: the teacher answered (student-routed) "
    "or nothing was scored (shadow).",
    "counter",
    "task",
)
AGREEMENT = _spec(
    "mkd_agreement_score",
    "Student-vs-teacher score of shadow/mirrored pairs.",
    "histogram",
    "task",
    "source",
    buckets=AGREEMENT_BUCKETS,
)
AGREEMENT_WINDOW = _spec("mkd_agreement_window", "Mean agreement in the rollback window.", "gauge")
ROLLBACKS = _spec("mkd_rollbacks_total", "Automatic rollbacks.", "counter")
# a state, not only the counter: an alert must resolve once `mkd rollout clear` lifts it
ROLLED_BACK = _spec("mkd_rolled_back", "1 while an automatic rollback holds weights at 0.", "gauge")
WEIGHT = _spec(
    "mkd_student_weight", "Student weight in force (0 after a rollback).", "gauge", "task"
)
WEIGHT_CONFIGURED = _spec(
    "mkd_student_weight_configured", "Student weight from user_config.", "gauge", "task"
)
SHADOW_SKIPPED = _spec(
    "mkd_shadow_skipped_total", "Shadow/mirror calls skipped (too many in flight).", "counter"
)
BAD_REQUESTS = _spec("mkd_bad_requests_total", "Requests refused with a 4xx.", "counter", "code")
CAPTURED = _spec(
    "mkd_captured_total", "Teacher answers queued for the feedback log.", "counter", "source"
)
CAPTURE_DROPPED = _spec(
    "mkd_capture_dropped_total",
    "Feedback entries dropped: the replica's buffer was full.",
    "counter",
)
# Student (serving/student.py)
STUDENT_BATCH_SIZE = _spec(
    "mkd_student_batch_size",
    "Items per decoded student batch.",
    "histogram",
    buckets=BATCH_SIZE_BUCKETS,
)
STUDENT_BATCH_SECONDS = _spec(
    "mkd_student_batch_seconds",
    "Decode time of one student batch.",
    "histogram",
    buckets=LATENCY_BUCKETS,
)
STUDENT_ERRORS = _spec(
    "mkd_student_errors_total", "Student batches that raised (every item fails).", "counter"
)
# Guards (mkd.guards.metrics)
GUARD_DECISIONS = _spec(
    "mkd_guard_decisions_total",
    "Guard chain verdicts by the guard and reason that decided, action, stage and path.",
    "counter",
    "guard",
    "reason",
    "action",
    "stage",
    "path",
)
GUARD_FINDINGS = _spec(
    "mkd_guard_findings_total",
    "Everything any guard found (several per verdict), by guard, reason and path.",
    "counter",
    "guard",
    "reason",
    "path",
)
GUARD_SECONDS = _spec(
    "mkd_guard_seconds",
    "Time spent in the guard chain per check.",
    "histogram",
    "stage",
    "path",
    buckets=GUARD_BUCKETS,
)

ALL: tuple[Spec, ...] = tuple(v for v in list(globals().values()) if isinstance(v, Spec))


def _ray_metric(spec: Spec) -> Any | None:
    """The Ray metric of `spec`, or None outside a Ray worker or driver.

    Only when Ray is already imported and initialized: a plain CLI process never pays for
    importing Ray, and Ray's metrics would go nowhere there. ray.serve.metrics only when Serve
    is loaded and this process is a replica: elsewhere (a job's task, a driver that imported
    Serve) its deployment tags would be empty strings, so those keep ray.util.metrics.
    """
    ray = sys.modules.get("ray")
    if ray is None or not ray.is_initialized():
        return None
    if _in_serve_replica():
        from ray.serve import metrics as rm
    else:
        from ray.util import metrics as rm
    keys = spec.labels or None
    if spec.kind == "counter":
        return rm.Counter(spec.name, spec.help, tag_keys=keys)
    if spec.kind == "gauge":
        return rm.Gauge(spec.name, spec.help, tag_keys=keys)
    return rm.Histogram(spec.name, spec.help, boundaries=list(spec.buckets), tag_keys=keys)


def _in_serve_replica() -> bool:
    if "ray.serve" not in sys.modules:
        return False
    from ray.serve.context import _get_internal_replica_context

    return _get_internal_replica_context() is not None


def _local_metric(spec: Spec, registry: CollectorRegistry) -> Any:
    if spec.kind == "counter":
        return Counter(spec.name, spec.help, spec.labels, registry=registry)
    if spec.kind == "gauge":
        return Gauge(spec.name, spec.help, spec.labels, registry=registry)
    return Histogram(spec.name, spec.help, spec.labels, buckets=spec.buckets, registry=registry)


class Metric:
    """One spec recorded both ways; `labels(...)` then `inc`/`set`/`observe`, as prometheus_client.

    The Ray metric is created at the first record, not at construction: Ray adds a replica's
    deployment tags only to metrics created once the replica context exists, and a module-level
    metric (the guards') may be imported before that.
    """

    def __init__(self, spec: Spec, registry: CollectorRegistry) -> None:
        self.spec = spec
        self.local = _local_metric(spec, registry)
        self._ray: Any | None = None

    def _ray_side(self) -> Any | None:
        if self._ray is None:
            self._ray = _ray_metric(self.spec)
        return self._ray

    def labels(self, *values: object) -> _Bound:
        return _Bound(self, tuple(str(v) for v in values))

    def inc(self, amount: float = 1.0) -> None:
        _Bound(self, ()).inc(amount)

    def set(self, value: float) -> None:
        _Bound(self, ()).set(value)

    def observe(self, value: float) -> None:
        _Bound(self, ()).observe(value)


class _Bound:
    """A metric with its label values, recording to both sides."""

    def __init__(self, metric: Metric, values: tuple[str, ...]) -> None:
        if len(values) != len(metric.spec.labels):
            raise ValueError(f"{metric.spec.name}: labels {metric.spec.labels}, got {values}")
        self.metric, self.values = metric, values
        self.tags = dict(zip(metric.spec.labels, values, strict=True))

    def _local(self) -> Any:
        local = self.metric.local
        return local.labels(*self.values) if self.values else local

    def inc(self, amount: float = 1.0) -> None:
        self._local().inc(amount)
        if (ray := self.metric._ray_side()) is not None:
            ray.inc(amount, tags=self.tags)

    def set(self, value: float) -> None:
        self._local().set(value)
        if (ray := self.metric._ray_side()) is not None:
            ray.set(value, tags=self.tags)

    def observe(self, value: float) -> None:
        self._local().observe(value)
        if (ray := self.metric._ray_side()) is not None:
            ray.observe(value, tags=self.tags)


def metric(spec: Spec, registry: CollectorRegistry = REGISTRY) -> Metric:
    """`spec` recorded through Ray and into `registry` (the process's default one unless given)."""
    return Metric(spec, registry)
