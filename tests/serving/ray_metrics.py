"""Reading the mkd_* series off Ray's metrics export port (what the chart's monitors scrape)."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
from mkd import metrics
from prometheus_client.parser import text_string_to_metric_families

# Ray's metrics agent exports what replicas report every few seconds (metrics_report_interval_ms)
EXPORT_TIMEOUT_S = 120


def mkd_samples(port: int) -> list:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    return [
        sample
        for family in text_string_to_metric_families(text)
        if family.name.startswith(metrics.RAY_NAMESPACE + "mkd_")
        for sample in family.samples
    ]


def _poll(port: int, done: Callable[[list], bool], failure: Callable[[list], str]) -> list:
    """The port's mkd samples once `done(samples)`; AssertionError(failure(samples)) after
    EXPORT_TIMEOUT_S."""
    deadline = time.monotonic() + EXPORT_TIMEOUT_S
    while True:
        samples = mkd_samples(port)
        if done(samples):
            return samples
        if time.monotonic() > deadline:
            raise AssertionError(failure(samples))
        time.sleep(2)


def wait_for_series(port: int, wanted: dict[str, str]) -> list:
    """Poll until every name in `wanted` has a sample tagged deployment=wanted[name]."""

    def done(samples: list) -> bool:
        seen = {(s.name, s.labels.get("deployment")) for s in samples}
        return all((name, dep) in seen for name, dep in wanted.items())

    def failure(samples: list) -> str:
        return f"never exported: {wanted}; mkd series seen: {sorted({s.name for s in samples})}"

    return _poll(port, done, failure)


def wait_for_value(port: int, name: str, labels: dict[str, str], value: float) -> list:
    """Poll until every sample of `name` carrying `labels` reads `value`.

    A gauge set by a reconfigure reaches the export port one report interval later: until
    then the port still shows what the replica reported before.
    """

    def matching(samples: list) -> list:
        return [
            s
            for s in samples
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
        ]

    def done(samples: list) -> bool:
        found = matching(samples)
        return bool(found) and all(s.value == value for s in found)

    def failure(samples: list) -> str:
        seen = [(s.labels, s.value) for s in matching(samples)]
        return f"{name}{labels} never read {value}; last seen: {seen}"

    return matching(_poll(port, done, failure))
