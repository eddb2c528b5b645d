"""Terraform: every file parses, structure and conventions hold, fmt and (offline) validate pass,
checkov finds nothing unexplained.

`terraform validate` needs the providers' schemas. This machine has no registry access, but an
optional filesystem mirror (/opt/tf-plugins, or $MKD_TF_PLUGIN_MIRROR) may hold some providers:
modules whose providers are all in the mirror are validated offline, the others are skipped with
the missing providers named (on a connected machine: `terraform init && terraform validate`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import hcl2
import pytest

from tests.helm.conftest import run_checkov

TERRAFORM = Path(__file__).parents[2] / "terraform"
MODULES = sorted(p for p in (TERRAFORM / "modules").iterdir() if p.is_dir())
ROOTS = [*MODULES, TERRAFORM / "examples" / "aws-eks"]
TF_FILES = sorted(TERRAFORM.rglob("*.tf"))
MIRROR = Path(os.environ.get("MKD_TF_PLUGIN_MIRROR", "/opt/tf-plugins"))
TF_BIN = shutil.which("terraform")


def _unquote(value: Any) -> Any:
    """python-hcl2 keeps string quotes ("\"x\""); strip them for comparisons."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def _load(path: Path) -> dict[str, Any]:
    with path.open() as handle:
        return hcl2.load(handle)


def _blocks(root: Path, kind: str) -> dict[str, dict[str, Any]]:
    """name -> body of every `kind` block (variable, output) across a root's files."""
    out = {}
    for path in sorted(root.glob("*.tf")):
        for block in _load(path).get(kind, []):
            for name, body in block.items():
                out[_unquote(name)] = body
    return out


def _resources(root: Path, rtype: str) -> dict[str, dict[str, Any]]:
    out = {}
    for path in sorted(root.glob("*.tf")):
        for block in _load(path).get("resource", []):
            for typ, named in block.items():
                if _unquote(typ) == rtype:
                    out |= {_unquote(n): body for n, body in named.items()}
    return out


def _required_providers(root: Path) -> dict[str, dict[str, str]]:
    terraform = _load(root / "versions.tf")["terraform"][0]
    providers = terraform["required_providers"][0]
    return {
        name: {k: _unquote(v) for k, v in spec.items()}
        for name, spec in providers.items()
        if not name.startswith("__")
    }


@pytest.mark.parametrize("path", TF_FILES, ids=lambda p: str(p.relative_to(TERRAFORM)))
def test_every_file_parses(path):
    assert isinstance(_load(path), dict)


@pytest.mark.parametrize("root", ROOTS, ids=lambda p: p.name)
def test_root_has_the_standard_file_split(root):
    assert {"main.tf", "variables.tf", "outputs.tf", "versions.tf"} <= {
        p.name for p in root.glob("*.tf")
    }


@pytest.mark.parametrize("root", ROOTS, ids=lambda p: p.name)
def test_every_variable_is_typed_described_and_string_ones_validated(root):
    problems = []
    for name, body in _blocks(root, "variable").items():
        if "type" not in body:
            problems.append(f"{name}: no type")
        if len(_unquote(body.get("description", ""))) < 10:
            problems.append(f"{name}: no description")
        # A string a user types gets a validation block with a readable message.
        if body.get("type") == "string" and not body.get("validation"):
            problems.append(f"{name}: string without a validation block")
        for rule in body.get("validation", []):
            if not _unquote(rule.get("error_message", "")).endswith("."):
                problems.append(f"{name}: validation message should be a sentence")
    assert not problems, problems


@pytest.mark.parametrize("root", ROOTS, ids=lambda p: p.name)
def test_every_output_is_described(root):
    outputs = _blocks(root, "output")
    assert outputs
    assert all(_unquote(body.get("description", "")) for body in outputs.values())


@pytest.mark.parametrize("root", ROOTS, ids=lambda p: p.name)
def test_providers_are_pinned(root):
    providers = _required_providers(root)
    assert providers
    for name, spec in providers.items():
        assert spec["source"].startswith("hashicorp/"), name
        if root.parent.name == "examples":
            assert re.fullmatch(r"\d+\.\d+\.\d+", spec["version"]), f"{name}: exact pin expected"
        else:
            assert "<" in spec["version"], f"{name}: upper bound expected ({spec['version']})"


def test_no_hard_coded_credentials_anywhere():
    pattern = re.compile(
        r"AKIA[0-9A-Z]{16}|aws_secret_access_key|secret_key\s*=|access_key\s*=|password\s*=\s*\"",
        re.IGNORECASE,
    )
    for path in [*TF_FILES, *TERRAFORM.rglob("*.tfvars*")]:
        assert not pattern.search(path.read_text()), path


def test_gpu_node_group_is_nvidia_tainted_and_scales_to_zero():
    eks = TERRAFORM / "modules" / "eks"
    gpu = _resources(eks, "aws_eks_node_group")["gpu"]
    assert _unquote(gpu["ami_type"]) == "AL2023_x86_64_NVIDIA"
    (taint,) = gpu["taint"]
    assert (_unquote(taint["key"]), _unquote(taint["effect"])) == ("nvidia.com/gpu", "NO_SCHEDULE")
    assert gpu["scaling_config"][0]["min_size"] == "${var.gpu_min_size}"
    assert _blocks(eks, "variable")["gpu_min_size"]["default"] == 0
    assert {_unquote(k): _unquote(v) for k, v in gpu["labels"].items()}["mkd.io/node-pool"] == "gpu"


def test_bucket_is_versioned_kms_encrypted_private_with_checkpoint_lifecycle():
    storage = TERRAFORM / "modules" / "storage"
    sse = _resources(storage, "aws_s3_bucket_server_side_encryption_configuration")["store"]
    rule = sse["rule"][0]["apply_server_side_encryption_by_default"][0]
    assert _unquote(rule["sse_algorithm"]) == "aws:kms"
    versioning = _resources(storage, "aws_s3_bucket_versioning")["store"]
    assert _unquote(versioning["versioning_configuration"][0]["status"]) == "Enabled"
    block = _resources(storage, "aws_s3_bucket_public_access_block")["store"]
    assert all(
        block[k] is True
        for k in (
            "block_public_acls",
            "block_public_policy",
            "ignore_public_acls",
            "restrict_public_buckets",
        )
    )
    lifecycle = _resources(storage, "aws_s3_bucket_lifecycle_configuration")["store"]
    assert any("checkpoint" in _unquote(r["id"]) for r in lifecycle["rule"])


def test_pod_role_is_scoped_to_the_store_prefixes():
    text = (TERRAFORM / "modules" / "iam" / "main.tf").read_text()
    assert '"${var.store_prefix}/${a}/*"' in text  # object actions only under the store areas
    assert (
        "s3:*" not in text and '"*"' not in text.split('data "aws_iam_policy_document" "store"')[1]
    )
    assert "pods.eks.amazonaws.com" in text and "AssumeRoleWithWebIdentity" in text


def test_example_root_outputs_bucket_cluster_and_role():
    outputs = _blocks(TERRAFORM / "examples" / "aws-eks", "output")
    assert {"bucket_name", "cluster_name", "pod_role_arn"} <= set(outputs)


def test_addons_install_kuberay_at_least_1_5_and_the_device_plugin():
    addons = TERRAFORM / "modules" / "addons"
    releases = _resources(addons, "helm_release")
    assert {"kuberay_operator", "nvidia_device_plugin", "mkd"} <= set(releases)
    default = _unquote(_blocks(addons, "variable")["kuberay_version"]["default"])
    assert tuple(int(x) for x in default.split(".")) >= (1, 5, 0)


# --- node autoscaling (Cluster Autoscaler) -----------------------------------------------------

AUTOSCALING = TERRAFORM / "modules" / "autoscaling"
_EFFECTS = {
    "NO_SCHEDULE": "NoSchedule",
    "NO_EXECUTE": "NoExecute",
    "PREFER_NO_SCHEDULE": "PreferNoSchedule",
}


def _gpu_template() -> tuple[dict[str, str], list[dict[str, str]]]:
    """Labels and taints of the GPU node group, as written in the eks module."""
    gpu = _resources(TERRAFORM / "modules" / "eks", "aws_eks_node_group")["gpu"]
    labels = {_unquote(k): _unquote(v) for k, v in gpu["labels"].items()}
    taints = [{k: _unquote(t[k]) for k in ("key", "value", "effect")} for t in gpu["taint"]]
    return labels, taints


def _expected_gpu_asg_tags() -> dict[str, str]:
    labels, taints = _gpu_template()
    tags = {f"k8s.io/cluster-autoscaler/node-template/label/{k}": v for k, v in labels.items()}
    for t in taints:
        tags[f"k8s.io/cluster-autoscaler/node-template/taint/{t['key']}"] = (
            f"{t['value']}:{_EFFECTS[t['effect']]}"
        )
    return tags


def test_eks_hands_the_node_groups_own_labels_and_taints_to_the_autoscaling_module():
    """The ASG tags derive from the node groups' attributes, so they cannot drift apart."""
    eks = TERRAFORM / "modules" / "eks"
    text = (eks / "outputs.tf").read_text()
    body = text.split('output "autoscaling_node_groups"')[1]
    assert "gpu = aws_eks_node_group.gpu" in body and "cpu = aws_eks_node_group.cpu" in body
    for attr in ("ng.labels", "ng.taint", "ng.resources[0].autoscaling_groups[0].name"):
        assert attr in body, attr
    assert '"nvidia.com/gpu" = tostring(var.gpus_per_node)' in body
    example = _load(TERRAFORM / "examples" / "aws-eks" / "main.tf")
    modules = {_unquote(n): b for m in example["module"] for n, b in m.items()}
    assert modules["autoscaling"]["node_groups"] == "${module.eks.autoscaling_node_groups}"
    assert modules["addons"]["cluster_autoscaler_service_account"] == (
        "${module.autoscaling.service_account}"
    )
    # The node group's own tags do not reach the ASG: no node-template tag belongs there.
    assert "cluster-autoscaler/node-template" not in (eks / "main.tf").read_text()


def test_asg_tags_are_per_node_group_asg_and_not_propagated():
    tag = _resources(AUTOSCALING, "aws_autoscaling_group_tag")["node_template"]
    assert tag["for_each"] == "${local.asg_tags}"
    assert tag["autoscaling_group_name"] == "${each.value.asg}"
    assert tag["tag"][0]["propagate_at_launch"] is False
    text = (AUTOSCALING / "main.tf").read_text()
    for prefix in ("label/${k}", "taint/${t.key}", "resources/${r}"):
        assert f'"k8s.io/cluster-autoscaler/node-template/{prefix}"' in text, prefix
    # for_each keys: node group name and tag key only (the ASG name is unknown until apply).
    assert '"${ng}|${k}" => { asg = var.node_groups[ng].asg_name' in text


def test_gpu_node_group_taint_and_labels_have_matching_asg_tags_as_terraform_computes_them(
    tmp_path,
):
    """`terraform console` evaluates the module's tags from the GPU group's parsed labels/taint."""
    if TF_BIN is None:
        pytest.skip("no terraform binary on PATH")
    if not _mirror_has("hashicorp/aws"):
        pytest.skip(f"hashicorp/aws is not in the provider mirror {MIRROR}")
    labels, taints = _gpu_template()
    assert any(t["key"] == "nvidia.com/gpu" for t in taints)

    def hcl(value: Any) -> str:
        return json.dumps(value)  # JSON objects and strings are valid HCL expressions

    node_groups = {
        "gpu": {"asg_name": "eks-gpu-0", "labels": labels, "taints": taints,
                "resources": {"nvidia.com/gpu": "1"}},
    }  # fmt: skip
    root = tmp_path / "root"
    root.mkdir()
    (root / "main.tf").write_text(
        'provider "aws" {\n  region = "us-east-1"\n  skip_credentials_validation = true\n'
        "  skip_requesting_account_id = true\n  skip_metadata_api_check = true\n}\n"
        f'module "autoscaling" {{\n  source = "{AUTOSCALING}"\n  cluster_name = "mkd"\n'
        f"  node_groups = {hcl(node_groups)}\n}}\n"
    )
    rc = tmp_path / "terraformrc"
    rc.write_text(
        f'provider_installation {{\n  filesystem_mirror {{\n    path = "{MIRROR}"\n  }}\n}}\n'
    )
    _terraform(["init", "-backend=false", "-input=false", "-no-color"], root, rc)
    env = {**os.environ, "TF_CLI_CONFIG_FILE": str(rc), "TF_IN_AUTOMATION": "1"}
    result = subprocess.run(
        [TF_BIN, "console", "-no-color"], cwd=root, env=env, input="jsonencode(module.autoscaling.asg_tags)\n",
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    tags = json.loads(json.loads(result.stdout.strip().splitlines()[-1]))["gpu"]
    expected = _expected_gpu_asg_tags()
    assert expected.items() <= tags.items(), (expected, tags)
    assert tags["k8s.io/cluster-autoscaler/node-template/taint/nvidia.com/gpu"] == "true:NoSchedule"
    assert tags["k8s.io/cluster-autoscaler/node-template/label/mkd.io/node-pool"] == "gpu"
    assert tags["k8s.io/cluster-autoscaler/node-template/resources/nvidia.com/gpu"] == "1"
    # The discovery tags the IAM policy's condition is keyed on.
    assert tags["k8s.io/cluster-autoscaler/mkd"] == "owned"
    assert tags["k8s.io/cluster-autoscaler/enabled"] == "true"


def _policy_statements() -> dict[str, dict[str, Any]]:
    (doc,) = [
        body
        for block in _load(AUTOSCALING / "main.tf").get("data", [])
        for typ, named in block.items()
        if _unquote(typ) == "aws_iam_policy_document"
        for name, body in named.items()
        if _unquote(name) == "autoscaler"
    ]
    return {_unquote(s["sid"]): s for s in doc["statement"]}


def test_autoscaler_policy_writes_only_to_asgs_tagged_as_owned_by_the_cluster():
    statements = _policy_statements()
    writes = [
        s for s in statements.values()
        if any(not _unquote(a).split(":")[1].startswith(("Describe", "Get")) for a in s["actions"])
    ]  # fmt: skip
    assert [_unquote(s["sid"]) for s in writes] == ["ResizeOwnedGroups"]
    (resize,) = writes
    assert {_unquote(a) for a in resize["actions"]} == {
        "autoscaling:SetDesiredCapacity",
        "autoscaling:TerminateInstanceInAutoScalingGroup",
    }
    assert all(":autoScalingGroup:" in _unquote(r) for r in resize["resources"])
    conditions = {
        _unquote(c["variable"]): ([_unquote(v) for v in c["values"]], _unquote(c["test"]))
        for c in resize["condition"]
    }
    assert conditions["aws:ResourceTag/${local.owned_tag}"] == (["owned"], "StringEquals")
    assert conditions["aws:ResourceTag/k8s.io/cluster-autoscaler/enabled"] == (
        ["true"],
        "StringEquals",
    )
    assert (
        'owned_tag    = "k8s.io/cluster-autoscaler/${var.cluster_name}"'
        in (AUTOSCALING / "main.tf").read_text()
    )
    # "*" only for the read-only discovery calls, which have no resource-level permissions.
    for sid, s in statements.items():
        if "*" in [_unquote(r) for r in s["resources"]]:
            assert all(
                _unquote(a).split(":")[1].startswith(("Describe", "Get")) for a in s["actions"]
            ), sid
    eks_describe = statements["DescribeOwnNodegroups"]["resources"]
    assert all("nodegroup/${var.cluster_name}/" in _unquote(r) for r in eks_describe)


def test_autoscaler_role_is_bound_to_its_service_account_only():
    text = (AUTOSCALING / "main.tf").read_text()
    assert "pods.eks.amazonaws.com" in text and "AssumeRoleWithWebIdentity" in text
    assert '"system:serviceaccount:${var.namespace}:${var.service_account}"' in text
    assoc = _resources(AUTOSCALING, "aws_eks_pod_identity_association")["autoscaler"]
    assert assoc["service_account"] == "${var.service_account}"


def test_cluster_autoscaler_release_is_pinned_and_balances_similar_groups():
    addons = TERRAFORM / "modules" / "addons"
    release = _resources(addons, "helm_release")["cluster_autoscaler"]
    assert _unquote(release["chart"]) == "cluster-autoscaler"
    assert _unquote(release["repository"]) == "https://kubernetes.github.io/autoscaler"
    variables = _blocks(addons, "variable")
    assert re.fullmatch(
        r"9\.\d+\.\d+", _unquote(variables["cluster_autoscaler_chart_version"]["default"])
    )
    assert re.fullmatch(
        r"v1\.\d+\.\d+", _unquote(variables["cluster_autoscaler_image_tag"]["default"])
    )
    # The image's minor version matches the default Kubernetes minor of the eks module.
    k8s = _unquote(
        _blocks(TERRAFORM / "modules" / "eks", "variable")["kubernetes_version"]["default"]
    )
    assert _unquote(variables["cluster_autoscaler_image_tag"]["default"]).startswith(f"v{k8s}.")
    text = (addons / "main.tf").read_text()
    body = text.split('resource "helm_release" "cluster_autoscaler"')[1].split("\nresource ")[0]
    assert '"balance-similar-node-groups" = true' in body
    assert "autoDiscovery = { clusterName = var.cluster_name }" in body
    assert "awsRegion     = var.aws_region" in body
    # Not disabled: GPU nodes only carry DaemonSets from kube-system, which never block scale-down.
    assert 'skip-nodes-with-system-pods" =' not in body
    assert '"mkd.io/node-pool" = "cpu"' in body


@pytest.mark.skipif(TF_BIN is None, reason="no terraform binary on PATH (fmt and validate need it)")
def test_terraform_fmt_check():
    result = subprocess.run(
        [TF_BIN, "fmt", "-check", "-recursive", "-diff", str(TERRAFORM)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def _mirror_has(source: str) -> bool:
    return any((MIRROR / "registry.terraform.io" / source).glob("*/*"))


# Placeholder arguments for each module's required variables: `validate` checks types and
# references, not real values (one wrapper root means one `init`, i.e. one provider install).
_WRAPPER_ARGS = {
    "network": {"name": '"mkd"'},
    "eks": {
        "cluster_name": '"mkd"',
        "vpc_id": "module.network.vpc_id",
        "subnet_ids": "module.network.private_subnet_ids",
    },
    "storage": {"bucket_name": '"mkd-artifacts"'},
    "autoscaling": {
        "cluster_name": '"mkd"',
        "node_groups": "module.eks.autoscaling_node_groups",
    },
    "iam": {
        "name": '"mkd"',
        "cluster_name": '"mkd"',
        "bucket_arn": "module.storage.bucket_arn",
        "kms_key_arn": "module.storage.kms_key_arn",
    },
}


def _terraform(args: list[str], cwd: Path, rc: Path) -> None:
    env = {**os.environ, "TF_CLI_CONFIG_FILE": str(rc), "TF_IN_AUTOMATION": "1"}
    result = subprocess.run(
        [TF_BIN, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, f"terraform {args[0]}:\n{result.stdout}\n{result.stderr}"


@pytest.mark.slow
def test_terraform_validate_offline_with_the_provider_mirror(tmp_path):
    if TF_BIN is None:
        pytest.skip("no terraform binary on PATH")
    covered, missing = [], {}
    for root in ROOTS:
        absent = [
            s["source"] for s in _required_providers(root).values() if not _mirror_has(s["source"])
        ]
        (missing.__setitem__(root.name, absent) if absent else covered.append(root.name))
    unknown = [m for m in covered if m not in _WRAPPER_ARGS]
    assert not unknown, f"add placeholder arguments for {unknown} to _WRAPPER_ARGS"
    if not covered:
        pytest.skip(f"no module's providers are in the mirror {MIRROR}")
    # Validate every covered module through one wrapper root that calls them all.
    copy = tmp_path / "terraform"
    shutil.copytree(TERRAFORM, copy, ignore=shutil.ignore_patterns(".terraform*"))
    wrapper = copy / "validate-wrapper"
    wrapper.mkdir()
    body = ""
    for name in covered:
        args = "".join(f"  {k} = {v}\n" for k, v in _WRAPPER_ARGS[name].items())
        body += f'module "{name}" {{\n  source = "../modules/{name}"\n{args}}}\n\n'
    (wrapper / "main.tf").write_text(body)
    rc = tmp_path / "terraformrc"
    rc.write_text(
        f'provider_installation {{\n  filesystem_mirror {{\n    path = "{MIRROR}"\n  }}\n}}\n'
    )
    _terraform(["init", "-backend=false", "-input=false", "-no-color"], wrapper, rc)
    _terraform(["validate", "-no-color"], wrapper, rc)
    if missing:  # validated what the mirror allows; say what it could not cover
        print(f"not validated offline (providers absent from {MIRROR}): {missing}")


@pytest.mark.slow
def test_checkov_finds_nothing_unexplained_in_terraform():
    """Accepted findings carry an inline `#checkov:skip=<id>:<reason>` next to the resource."""
    failed = run_checkov(TERRAFORM, "terraform")
    assert not failed, "\n".join(
        f"{c['check_id']} {c['check_name']} on {c['resource']} ({c['file_path']})" for c in failed
    )
