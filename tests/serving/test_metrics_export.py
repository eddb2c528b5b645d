"""The app's mkd_* metrics reach Ray's metrics export port (what the chart's monitors scrape),
tagged with their deployment, on a real local cluster."""

from __future__ import annotations

import httpx
import pytest
from mkd import metrics

from tests.serving.ray_metrics import wait_for_series

pytestmark = pytest.mark.integration


def test_router_and_student_metrics_reach_rays_metrics_port(served_app):
    served_app.clear_rollback()
    served_app.set_router(mode="split", student_weight=1.0, mirror_fraction=0.0)
    served_app.wait_router(lambda s: s["student_weight"] == 1.0 and not s["rolled_back"])
    with httpx.Client(base_url=served_app.base_url, headers=served_app.headers, timeout=60) as c:
        for i in range(4):
            r = c.post("/v1/tasks/query_classifier", json={"input": f"Top banks by assets #{i}"})
            assert r.status_code == 200, r.text
        assert c.post("/v1/tasks/stock_picker", json={"input": "hi"}).status_code == 404
    served_app.set_router(student_weight=0.0)

    port = served_app.cluster.metrics_export_port
    samples = wait_for_series(
        port,
        {
            metrics.REQUESTS.exported: "Router",
            metrics.LATENCY.exported + "_count": "Router",
            metrics.BAD_REQUESTS.exported: "Router",
            metrics.WEIGHT.exported: "Router",
            metrics.STUDENT_BATCH_SIZE.exported + "_count": "Student",
        },
    )
    # a driver (this test process) may export its own untagged series; the Router's are tagged
    requests = [
        s
        for s in samples
        if s.name == metrics.REQUESTS.exported and s.labels.get("deployment") == "Router"
    ]
    assert requests and all(s.labels["application"] and s.labels["replica"] for s in requests)
    ok = sum(s.value for s in requests if s.labels["task"] == "query_classifier")
    assert ok >= 4
    assert any(s.name == metrics.BAD_REQUESTS.exported and s.value >= 1 for s in samples)
