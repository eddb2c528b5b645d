"""The red-team set: its shape, and the guards' recall and precision on it."""

import json

import pytest
from mkd.guards.redteam import RedTeamItem, load_redteam, score


@pytest.fixture(scope="module")
def items():
    return load_redteam("finance")


@pytest.fixture(scope="module")
def report(items, chain):
    return score(items, [chain.check_input(i.text()) for i in items])


def test_set_covers_every_category(items):
    assert len(items) >= 150
    counts = {
        c: sum(i.category == c for i in items)
        for c in ("pii", "injection", "ood", "unicode", "long", "benign")
    }
    assert all(n >= 10 for n in counts.values()), counts


def test_long_inputs_are_generated_not_stored(items, pack):
    long_items = [i for i in items if i.generate]
    assert max(len(i.text()) for i in long_items) >= 1_000_000
    assert pack.data_file("data/redteam.jsonl").stat().st_size < 100_000


def test_item_validation_names_the_problem(tmp_path):
    bad = tmp_path / "rt.jsonl"
    ok = {
        "id": "a",
        "input": "x",
        "expected": {"decision": "allow", "reason": "ok"},
        "category": "benign",
    }
    both = {**ok, "id": "b", "generate": {"parts": [{"text": "y"}]}}
    bad.write_text(json.dumps(ok) + "\n" + json.dumps(both) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"rt.jsonl:2: <item>: give exactly one of"):
        load_redteam(bad)
    assert RedTeamItem.model_validate(ok).text() == "x"


def test_pii_and_injection_recall_at_least_095_with_precision(report):
    fams = report["by_family"]
    for fam in ("pii", "injection"):
        print(f"{fam}: precision {fams[fam]['precision']:.3f} recall {fams[fam]['recall']:.3f}")
        assert fams[fam]["recall"] >= 0.95
        assert fams[fam]["precision"] is not None


def test_benign_queries_are_allowed(report):
    assert report["by_category"]["benign"]["accuracy"] == 1.0


def test_every_category_mostly_right(report):
    for cat, row in report["by_category"].items():
        assert row["accuracy"] >= 0.9, (cat, report["mistakes"])
