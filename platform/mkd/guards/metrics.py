"""Prometheus counters of guard decisions, and logs that never hold the raw text.

A log line carries the reason codes, the action, the path (labeling, serving, eval) and a
SHA-256 prefix of the whole input, so that one query can be followed across stages without
being written anywhere. The hash is over the whole query, never over a PII value alone (a
phone number's hash could be reversed by trying every number).
"""

from __future__ import annotations

import hashlib
import logging

from mkd import metrics
from mkd.guards.decision import Action, Decision

log = logging.getLogger("mkd.guards")

# The process's default prometheus_client registry (the guard CLI and tests read it) and, in a
# Ray worker, Ray's metrics export (a Router replica's guard chain, labeling tasks).
DECISIONS = metrics.metric(metrics.GUARD_DECISIONS)
FINDINGS = metrics.metric(metrics.GUARD_FINDINGS)
SECONDS = metrics.metric(metrics.GUARD_SECONDS)


def text_hash(text: str) -> str:
    """A short, stable reference to a text (SHA-256 prefix) for logs and quarantine rows."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def record(decision: Decision, raw: str, stage: str, path: str, seconds: float) -> None:
    """Count a verdict and its findings; log every verdict other than a plain allow."""
    DECISIONS.labels(decision.guard, decision.reason, decision.action.value, stage, path).inc()
    for f in decision.findings:
        FINDINGS.labels(f.guard, f.reason, path).inc()
    SECONDS.labels(stage, path).observe(seconds)
    if decision.action is not Action.ALLOW or decision.findings:
        log.info(
            "guard %s path=%s stage=%s reason=%s reasons=%s input_sha256=%s chars=%d",
            decision.action.value,
            path,
            stage,
            decision.reason,
            ",".join(decision.reasons),
            text_hash(raw),
            len(raw),
        )
