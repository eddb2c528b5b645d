"""The Grafana dashboard and the PrometheusRule: rendered when monitoring is on, their PromQL
names only metrics that exist, and promtool accepts (and fires) the rules."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path

import pytest
import yaml
from mkd import metrics

from tests.helm.conftest import CHART, objects_of

DASHBOARD = CHART / "dashboards" / "mkd-serving.json"
MONITORING_ON = {"monitoring": {"podMonitor": {"enabled": True}}}
RAY_SOURCE = Path(__import__("ray").__file__).parent


def _kind(render, values: dict, kind: str) -> list[dict]:
    return [o for o in objects_of(render(values)) if o["kind"] == kind]


def _rule(render, values: dict | None = None) -> dict:
    (rule,) = _kind(render, {**MONITORING_ON, **(values or {})}, "PrometheusRule")
    return rule


def mkd_series() -> set[str]:
    """Every series name Prometheus stores for mkd.metrics (Ray's namespace in front)."""
    names = set()
    for spec in metrics.ALL:
        if spec.kind == "histogram":
            names |= {spec.exported + s for s in ("_bucket", "_sum", "_count")}
        else:
            names.add(spec.exported)
    return names


@cache
def is_ray_metric(name: str) -> bool:
    """A Ray built-in series: its base name is defined (quoted) in Ray's Serve or core source."""
    base = re.sub(r"_(bucket|sum|count|total)$", "", name.removeprefix("ray_"))
    for folder in ("serve", "_private", "dashboard"):
        for path in (RAY_SOURCE / folder).rglob("*.py"):
            if f'"{base}"' in path.read_text(errors="replace"):
                return True
    return False


KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan"}


def metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression: identifiers left once strings, label matchers,
    ranges and grouping clauses are removed, that are neither functions nor keywords."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)
    expr = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", expr)
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    names = set()
    for m in re.finditer(r"(?<![\w$.])([a-zA-Z_:][\w:]*)\s*(\()?", expr):
        if not m.group(2) and m.group(1).lower() not in KEYWORDS:
            names.add(m.group(1))
    return names


def assert_known(exprs: list[str]) -> None:
    known = mkd_series()
    for expr in exprs:
        names = metric_names(expr)
        assert names, expr
        unknown = {n for n in names if n not in known and not is_ray_metric(n)}
        assert not unknown, f"{unknown} in {expr}"


def test_metric_name_extraction_sees_through_promql_syntax():
    expr = (
        "histogram_quantile(0.99, sum by (route, le) (rate(ray_mkd_request_latency_seconds_bucket"
        '{route=~"a|b"}[5m]))) > 2 and on (task) ray_mkd_rolled_back'
    )
    assert metric_names(expr) == {"ray_mkd_request_latency_seconds_bucket", "ray_mkd_rolled_back"}
    assert "ray_mkd_nope_total" not in mkd_series() and not is_ray_metric("ray_mkd_nope_total")


def test_dashboard_parses_and_queries_only_existing_metrics():
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    assert len(exprs) >= 10
    assert_known(exprs)
    assert is_ray_metric("ray_serve_deployment_processing_latency_ms_bucket")


def test_dashboard_configmap_follows_monitoring_and_its_toggle(render):
    configmaps = _kind(render, MONITORING_ON, "ConfigMap")
    (cm,) = [o for o in configmaps if o["metadata"]["name"].endswith("-dashboard")]
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(cm["data"]["mkd-serving.json"]) == json.loads(DASHBOARD.read_text())
    off = {"monitoring": {"podMonitor": {"enabled": True}, "dashboard": {"enabled": False}}}
    for values in ({}, off):  # monitoring off by default; or the dashboard switched off
        names = [o["metadata"]["name"] for o in _kind(render, values, "ConfigMap")]
        assert not [n for n in names if n.endswith("-dashboard")]


def test_prometheus_rule_follows_monitoring_and_its_toggle(render):
    assert not _kind(render, {}, "PrometheusRule")
    off = {"monitoring": {"serviceMonitor": {"enabled": True}, "alerts": {"enabled": False}}}
    assert not _kind(render, off, "PrometheusRule")
    alerts = {r["alert"] for g in _rule(render)["spec"]["groups"] for r in g["rules"]}
    assert alerts == {
        "MKDRolledBack",
        "MKDFallbackRateHigh",
        "MKDAgreementBelowGate",
        "MKDLatencyP99High",
    }


def test_alert_thresholds_come_from_values_and_the_rollback_gate(render):
    def rules(values: dict) -> dict[str, dict]:
        spec = _rule(render, values)["spec"]
        return {r["alert"]: r for g in spec["groups"] for r in g["rules"]}

    default = rules({})
    assert "< 0.8" in default["MKDAgreementBelowGate"]["expr"]  # serving's min_agreement gate
    changed = rules(
        {
            "serving": {"rollout": {"rollback": {"min_agreement": 0.7}}},
            "monitoring": {
                "podMonitor": {"enabled": True},
                "alerts": {"fallbackRate": 0.05, "p99LatencySeconds": 1, "for": "2m"},
            },
        }
    )
    assert "< 0.7" in changed["MKDAgreementBelowGate"]["expr"]
    assert "> 0.05" in changed["MKDFallbackRateHigh"]["expr"]
    assert changed["MKDLatencyP99High"]["expr"].rstrip().endswith("> 1")
    assert changed["MKDLatencyP99High"]["for"] == "2m"
    explicit = {"monitoring": {"podMonitor": {"enabled": True}, "alerts": {"minAgreement": 0.9}}}
    assert "< 0.9" in rules(explicit)["MKDAgreementBelowGate"]["expr"]
    assert_known([r["expr"] for r in default.values()])


def _promtool() -> str:
    # scripts/setup.sh puts Debian's promtool binary in .tools/ where apt-get can fetch it
    local = Path(__file__).resolve().parents[2] / ".tools" / "promtool"
    found = os.environ.get("PROMTOOL") or shutil.which("promtool")
    if not found and local.is_file():
        found = str(local)
    if not found:
        pytest.skip("promtool not installed (Debian package `prometheus`; or set PROMTOOL)")
    return found


def _rules_file(render, tmp_path: Path, annotations: bool = True) -> Path:
    groups = _rule(render)["spec"]["groups"]
    if not annotations:  # `promtool test rules` compares them whole; check rules parses them
        for rule in (r for g in groups for r in g["rules"]):
            rule.pop("annotations", None)
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump({"groups": groups}))
    return path


def test_promtool_accepts_the_rules(render, tmp_path):
    promtool = _promtool()
    result = subprocess.run(
        [promtool, "check", "rules", str(_rules_file(render, tmp_path))],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 rules found" in result.stdout


# Series as Prometheus stores them from Ray's metrics port: one Router replica rolled back,
# half of its student attempts falling back, agreement 0.5 on every pair.
PROMTOOL_TEST = """
rule_files: [rules.yaml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'ray_mkd_rolled_back{namespace="mkd",application="mkd",replica="r1"}'
        values: '0 0 1x20'
      - series: 'ray_mkd_requests_total{namespace="mkd",application="mkd",task="t",route="student"}'
        values: '0+60x30'
      - series: 'ray_mkd_requests_total{namespace="mkd",application="mkd",task="t",route="fallback"}'
        values: '0+60x30'
      - series: 'ray_mkd_agreement_score_sum{namespace="mkd",application="mkd",task="t"}'
        values: '0+30x30'
      - series: 'ray_mkd_agreement_score_count{namespace="mkd",application="mkd",task="t"}'
        values: '0+60x30'
    alert_rule_test:
      - {eval_time: 1m, alertname: MKDRolledBack, exp_alerts: []}
      - eval_time: 5m
        alertname: MKDRolledBack
        exp_alerts:
          - exp_labels: {severity: critical, namespace: mkd, application: mkd}
      - eval_time: 25m
        alertname: MKDFallbackRateHigh
        exp_alerts:
          - exp_labels: {severity: warning, namespace: mkd, application: mkd, task: t}
      - eval_time: 25m
        alertname: MKDAgreementBelowGate
        exp_alerts:
          - exp_labels: {severity: warning, namespace: mkd, application: mkd, task: t}
      - {eval_time: 25m, alertname: MKDLatencyP99High, exp_alerts: []}
"""


def test_promtool_fires_the_alerts_on_sample_series(render, tmp_path):
    promtool = _promtool()
    _rules_file(render, tmp_path, annotations=False)
    test = tmp_path / "test.yaml"
    test.write_text(PROMTOOL_TEST)
    result = subprocess.run(
        [promtool, "test", "rules", str(test)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
