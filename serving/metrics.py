"""The Router's and Student's metrics (defined in mkd.metrics), per replica.

Ray's metrics agent exports them, with deployment/replica/application tags, on the node's metrics
port, which the chart's monitors scrape. Each replica also keeps its own prometheus_client
registry behind the Router's `GET /metrics`: one replica's view, for debugging (the Serve proxy
picks the replica, so never scrape it).
"""

from __future__ import annotations

from mkd import metrics as m
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest


class RouterMetrics:
    """Counters, histograms and gauges the router updates on every request."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        # a registry per instance: tests build several routers in one process
        r = self.registry = CollectorRegistry()
        self.requests = m.metric(m.REQUESTS, r)
        self.latency = m.metric(m.LATENCY, r)
        self.fallbacks = m.metric(m.FALLBACKS, r)
        self.shed = m.metric(m.STUDENT_SHED, r)
        self.agreement = m.metric(m.AGREEMENT, r)
        self.agreement_mean = m.metric(m.AGREEMENT_WINDOW, r)
        self.rollbacks = m.metric(m.ROLLBACKS, r)
        self.rolled_back = m.metric(m.ROLLED_BACK, r)
        self.weight = m.metric(m.WEIGHT, r)
        self.configured_weight = m.metric(m.WEIGHT_CONFIGURED, r)
        self.shadow_skipped = m.metric(m.SHADOW_SKIPPED, r)
        self.bad_requests = m.metric(m.BAD_REQUESTS, r)
        self.captured = m.metric(m.CAPTURED, r)
        self.capture_dropped = m.metric(m.CAPTURE_DROPPED, r)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class StudentMetrics:
    """What the Student records per decoded batch."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.batch_size = m.metric(m.STUDENT_BATCH_SIZE, r)
        self.batch_seconds = m.metric(m.STUDENT_BATCH_SECONDS, r)
        self.errors = m.metric(m.STUDENT_ERRORS, r)
