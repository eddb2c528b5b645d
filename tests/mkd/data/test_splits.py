"""Splits by family: no family in two splits, stable under additions."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from mkd.config.data import SplitConfig
from mkd.data.splits import family_overlap, split_by_family, split_of


@given(st.lists(st.tuples(st.integers(0, 60), st.integers(0, 5)), max_size=300), st.integers())
def test_no_family_overlap(pairs, seed):
    records = [{"id": f"{f}~{v}", "family": f"fam{f}"} for f, v in pairs]
    splits = split_by_family(records, seed, SplitConfig())
    assert family_overlap(splits) == {}
    assert sum(len(v) for v in splits.values()) == len(records)


def test_ratios_roughly_hold_and_assignment_is_stable():
    cfg = SplitConfig()
    fams = [f"fin-{i:04d}" for i in range(2000)]
    counts = {s: sum(split_of(f, 42, cfg) == s for f in fams) for s in ("train", "val", "test")}
    assert (
        1500 < counts["train"] < 1700 and 140 < counts["val"] < 260 and 140 < counts["test"] < 260
    )
    assert [split_of(f, 42, cfg) for f in fams[:100]] == [split_of(f, 42, cfg) for f in fams[:100]]


def test_overlap_is_detected():
    splits = {"train": [{"id": "a", "family": "x"}], "test": [{"id": "b", "family": "x"}]}
    assert family_overlap(splits) == {("train", "test"): {"x"}}
