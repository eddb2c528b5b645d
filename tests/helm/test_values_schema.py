"""values.schema.json refuses bad values with a message naming the key (Helm validates on install)."""

from __future__ import annotations

import json

import helm_python as h
import pytest
import yaml

from tests.helm.conftest import CHART, CI_VALUES


@pytest.fixture(scope="module")
def chart():
    with h.Chart.load(str(CHART)) as loaded:
        yield loaded


@pytest.mark.parametrize(
    ("values", "where", "why"),
    [
        (
            {"serving": {"rollout": {"student_weight": 1.5}}},
            "/serving/rollout/student_weight",
            "maximum: got 1.5, want 1",
        ),
        (
            {"serving": {"rollout": {"student_weight": -0.1}}},
            "/serving/rollout/student_weight",
            "minimum",
        ),
        (
            {"serving": {"rollout": {"mode": "blue-green"}}},
            "/serving/rollout/mode",
            "value must be one of 'split', 'shadow'",
        ),
        ({"store": {"bucket": "MKD-Artifacts"}}, "/store/bucket", "does not match pattern"),
        ({"store": {"bucket": "ab"}}, "/store/bucket", "does not match pattern"),
        (
            {
                "serving": {
                    "rollout": {"task_overrides": {"query_classifier": {"student_weight": 2}}}
                }
            },
            "/serving/rollout/task_overrides/query_classifier/student_weight",
            "maximum",
        ),
        (
            {"serving": {"upgradeStrategy": {"type": "Recreate"}}},
            "/serving/upgradeStrategy/type",
            "value must be one of",
        ),
        ({"jobs": {"submissionMode": "Batch"}}, "/jobs/submissionMode", "value must be one of"),
        ({"serving": {"rollot": {}}}, "/serving", "additional properties 'rollot' not allowed"),
        (  # the camelCase names before issue 18 (docs/serving.md lists old -> new)
            {"serving": {"rollout": {"studentWeight": 0.1}}},
            "/serving/rollout",
            "additional properties 'studentWeight' not allowed",
        ),
        (
            {"serviceAccount": {"irsaRoleArn": "my-role"}},
            "/serviceAccount/irsaRoleArn",
            "does not match pattern",
        ),
        ({"ray": {"gpuWorkers": {"gpus": 0}}}, "/ray/gpuWorkers/gpus", "minimum"),
    ],
)
def test_bad_values_are_refused_with_the_key_named(chart, values, where, why):
    with pytest.raises(h.HelmValuesError) as refused:
        chart.validate_schema(values)
    message = str(refused.value)
    assert f"at '{where}'" in message and why in message, message


def test_install_refuses_bad_values_too(chart):
    """Should stop a render (what `helm install/upgrade` does) when a value breaks the schema."""
    with pytest.raises(h.HelmValuesError, match="/serving/rollout/student_weight"):
        chart.render(h.parse_set_string("serving.rollout.student_weight=1.5"), name="mkd")


@pytest.mark.parametrize(
    "expression",
    [
        "serving.rollout.student_weight=0.25",
        "serving.rollout.student_weight=1",
        "serving.rollout.student_weight=0",
    ],
)
def test_set_with_a_valid_weight_is_accepted(chart, expression):
    """Should accept `--set` weights, which Helm passes as strings for decimals."""
    chart.validate_schema(h.parse_set_string(expression))


def test_defaults_and_every_ci_file_pass_the_schema(chart):
    chart.validate_schema({})
    for path in CI_VALUES:
        chart.validate_schema(yaml.safe_load(path.read_text()))


def test_every_value_is_documented():
    """Should carry a `# --` comment (helm-docs) above every leaf value of values.yaml."""
    lines = (CHART / "values.yaml").read_text().splitlines()
    undocumented = []
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", "-", "{")) or line.startswith(" " * 6 + "-"):
            continue
        key, _, rest = stripped.partition(":")
        block_start = (
            rest.strip() == ""
        )  # a mapping of documented children (or a documented block value)
        j = i - 1
        while (
            j >= 0 and lines[j].strip().startswith("#") and not lines[j].strip().startswith("# --")
        ):
            j -= 1
        documented = j >= 0 and lines[j].strip().startswith("# --")
        indent = len(line) - len(line.lstrip())
        parent_documented = _parent_is_documented(lines, i, indent)
        if not documented and not block_start and not parent_documented:
            undocumented.append(f"values.yaml:{i + 1}: {key}")
    assert not undocumented, undocumented


def _parent_is_documented(lines: list[str], i: int, indent: int) -> bool:
    """A value inside a documented block (e.g. resources.requests under `# -- Resources ...`)."""
    for j in range(i - 1, -1, -1):
        line = lines[j]
        if not line.strip() or line.strip().startswith("#"):
            continue
        if len(line) - len(line.lstrip()) < indent:
            k = j - 1
            while (
                k >= 0
                and lines[k].strip().startswith("#")
                and not lines[k].strip().startswith("# --")
            ):
                k -= 1
            return (k >= 0 and lines[k].strip().startswith("# --")) or _parent_is_documented(
                lines, j, len(line) - len(line.lstrip())
            )
    return False


def test_schema_file_is_valid_json_with_descriptions_for_rollout():
    schema = json.loads((CHART / "values.schema.json").read_text())
    rollout = schema["properties"]["serving"]["properties"]["rollout"]["properties"]
    assert rollout["mode"]["enum"] == ["split", "shadow"]
    assert "description" in rollout["student_weight"]


def test_committed_schema_matches_router_config():
    """Should fail when serving.rollout in values.schema.json and RouterConfig drift apart (run
    `python -m mkd.serve.schema` after changing the model)."""
    from mkd.serve.schema import render

    path = CHART / "values.schema.json"
    assert path.read_text(encoding="utf-8") == render(path), "run: python -m mkd.serve.schema"


def test_every_router_config_field_is_a_chart_value_with_its_own_name():
    """Should list every live setting in values.yaml under RouterConfig's own (snake_case) names,
    so that the chart passes serving.rollout through unchanged."""
    from mkd.serve.config import RouterConfig

    rollout = yaml.safe_load((CHART / "values.yaml").read_text())["serving"]["rollout"]
    assert set(rollout) == set(RouterConfig.model_fields)
    assert RouterConfig.model_validate(rollout).rollback.max_p95_s == 1.0  # GPU cluster default


def test_schema_check_reports_drift(tmp_path, capsys):
    """Should exit 1 on a schema whose serving.rollout differs, and rewrite it without --check."""
    from mkd.serve.schema import main

    schema = json.loads((CHART / "values.schema.json").read_text())
    schema["properties"]["serving"]["properties"]["rollout"]["properties"].pop("mode")
    stale = tmp_path / "values.schema.json"
    stale.write_text(json.dumps(schema))
    assert main(["--schema", str(stale), "--check"]) == 1
    assert main(["--schema", str(stale)]) == 0 and main(["--schema", str(stale), "--check"]) == 0
    assert (
        "mode"
        in json.loads(stale.read_text())["properties"]["serving"]["properties"]["rollout"][
            "properties"
        ]
    )
