"""Prometheus metrics of the router, per route and task, exposed on GET /metrics.

Each Router replica keeps its own registry (Ray Serve replicas are separate processes); a
cluster's Prometheus scrapes every replica, or reads them through the Serve proxy per replica.
"""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class RouterMetrics:
    """Counters, histograms and gauges the router updates on every request."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.requests = Counter(
            "mkd_requests_total", "Answered requests.", ["task", "route", "status"], registry=r
        )
        self.latency = Histogram(
            "mkd_request_latency_seconds",
            "Latency of answered task requests.",
            ["task", "route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.fallbacks = Counter(
            "mkd_fallbacks_total",
            "Student attempts answered by the teacher.",
            ["task", "reason"],
            registry=r,
        )
        self.agreement = Histogram(
            "mkd_agreement_score",
            "Student-vs-teacher score of shadow/mirrored pairs.",
            ["task", "source"],
            buckets=(0.0, 0.25, 0.5, 0.75, 0.9, 1.0),
            registry=r,
        )
        self.agreement_mean = Gauge(
            "mkd_agreement_window", "Mean agreement in the rollback window.", registry=r
        )
        self.rollbacks = Counter("mkd_rollbacks_total", "Automatic rollbacks.", registry=r)
        self.weight = Gauge(
            "mkd_student_weight",
            "Student weight in force (0 after a rollback).",
            ["task"],
            registry=r,
        )
        self.configured_weight = Gauge(
            "mkd_student_weight_configured",
            "Student weight from user_config.",
            ["task"],
            registry=r,
        )
        self.shadow_skipped = Counter(
            "mkd_shadow_skipped_total",
            "Shadow/mirror calls skipped (too many in flight).",
            registry=r,
        )
        self.bad_requests = Counter(
            "mkd_bad_requests_total", "Requests refused with a 4xx.", ["code"], registry=r
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
