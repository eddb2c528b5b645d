"""The store's top-level areas are named once, in mkd.storage.STORE_AREAS; the IAM policy's
`store_areas` default and the docs must list exactly those, or pods get AccessDenied on an area
the code writes (issue 19: reviews/ and pipelines/ were missing from the policy).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from mkd.storage import STORE_AREAS
from mkd.store_layout import (
    LABEL_CACHE,
    dataset_prefix,
    reviews_prefix,
    run_key,
    version_prefix,
)

ROOT = Path(__file__).parents[2]
IAM_VARIABLES = ROOT / "terraform" / "modules" / "iam" / "variables.tf"
CODE_DIRS = [ROOT / "platform" / "mkd", ROOT / "serving", ROOT / "ray_jobs"]


def _terraform_default() -> list[str]:
    """The `store_areas` variable's default, by python-hcl2 when installed, else by a regex."""
    try:
        import hcl2
    except ImportError:
        text = IAM_VARIABLES.read_text()
        block = re.search(r'variable "store_areas" \{(.*?)\n\}', text, re.S)
        assert block, 'variable "store_areas" not found'
        default = re.search(r"^\s*default\s*=\s*\[(.*?)\]", block.group(1), re.S | re.M)
        assert default, "store_areas has no list default"
        return re.findall(r'"([^"]*)"', default.group(1))
    with IAM_VARIABLES.open() as handle:
        variables = hcl2.load(handle)["variable"]
    # Newer python-hcl2 releases keep the quotes of names and strings: strip them either way.
    body = next(v for b in variables for k, v in b.items() if k.strip('"') == "store_areas")
    return [a.strip('"') for a in body["default"]]


def test_the_code_lists_each_area_once():
    assert len(set(STORE_AREAS)) == len(STORE_AREAS)
    assert all(re.fullmatch(r"[a-z0-9][a-z0-9._-]*", a) for a in STORE_AREAS)


def test_the_iam_policy_default_grants_exactly_the_code_areas():
    default = _terraform_default()
    assert len(default) == len(set(default)), f"duplicates in store_areas: {default}"
    assert set(default) == set(STORE_AREAS), (
        f"terraform/modules/iam store_areas: missing {sorted(set(STORE_AREAS) - set(default))}, "
        f"not in mkd.storage.STORE_AREAS {sorted(set(default) - set(STORE_AREAS))}"
    )


def test_deploy_doc_names_the_policy_areas():
    text = (ROOT / "docs" / "deploy-eks.md").read_text()
    listed = re.search(r"`mkd/\{([^}]*)\}/`", text)
    assert listed, "docs/deploy-eks.md no longer names the pod role's areas as `mkd/{...}/`"
    assert sorted(listed.group(1).split(",")) == sorted(STORE_AREAS)


def test_architecture_doc_shows_every_area_in_the_store_layout():
    text = (ROOT / "docs" / "architecture.md").read_text()
    section = text.split("## The artifact store", 1)[1].split("\n## ", 1)[0]
    # The layout block: indented lines, each starting with an area's key.
    shown = {m.group(1) for m in re.finditer(r"^ {4}([a-z0-9._-]+)/", section, re.M)}
    assert shown == set(STORE_AREAS)


@pytest.mark.parametrize("area", STORE_AREAS)
def test_every_area_is_a_key_prefix_in_the_code(area):
    """No stale or misspelt area: some key literal in the code starts with it."""
    literal = re.compile(rf'f?"{re.escape(area)}/')
    sources = (p for d in CODE_DIRS for p in d.rglob("*.py") if p.name != "storage.py")
    assert any(literal.search(p.read_text()) for p in sources), f"no key starts with {area}/"


@pytest.mark.parametrize(
    "key",
    [
        dataset_prefix("finance", "v1"),
        LABEL_CACHE,
        reviews_prefix("finance", "v1"),
        run_key("r1", "adapter"),
        version_prefix("finance-student", 3),
    ],
)
def test_the_key_builders_stay_inside_the_areas(key):
    assert key.split("/", 1)[0] in STORE_AREAS
