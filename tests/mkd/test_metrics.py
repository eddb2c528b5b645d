"""mkd.metrics: one definition per metric, recorded locally (and through Ray inside a worker)."""

from __future__ import annotations

import sys

import pytest
from mkd import metrics
from prometheus_client import CollectorRegistry


def test_every_metric_is_defined_once_under_the_mkd_prefix():
    names = [s.name for s in metrics.ALL]
    assert len(names) == len(set(names)) >= 15
    assert all(n.startswith("mkd_") for n in names)
    assert all(s.name.endswith("_total") for s in metrics.ALL if s.kind == "counter")
    # Ray refuses a histogram boundary <= 0
    assert all(s.buckets and min(s.buckets) > 0 for s in metrics.ALL if s.kind == "histogram")
    assert metrics.REQUESTS.exported == "ray_mkd_requests_total"


def test_values_reach_the_local_registry_without_ray():
    registry = CollectorRegistry()
    requests = metrics.metric(metrics.REQUESTS, registry)
    requests.labels("query_classifier", "student", "ok").inc()
    requests.labels("query_classifier", "student", "ok").inc(2)
    metrics.metric(metrics.ROLLED_BACK, registry).set(1)
    metrics.metric(metrics.LATENCY, registry).labels("t", "teacher").observe(0.2)
    labels = {"task": "query_classifier", "route": "student", "status": "ok"}
    assert registry.get_sample_value("mkd_requests_total", labels) == 3
    assert registry.get_sample_value("mkd_rolled_back") == 1
    assert (
        registry.get_sample_value(
            "mkd_request_latency_seconds_count", {"task": "t", "route": "teacher"}
        )
        == 1
    )
    ray = sys.modules.get("ray")
    if ray is None or not ray.is_initialized():  # no Ray worker here: nothing to export through
        assert requests._ray_side() is None


def test_wrong_label_count_is_refused():
    with pytest.raises(ValueError, match="mkd_fallbacks_total"):
        metrics.metric(metrics.FALLBACKS, CollectorRegistry()).labels("only-task")
