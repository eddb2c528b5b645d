"""Augmentation: operators, families, determinism, de-duplication, the >= 2,000 prompt target."""

from __future__ import annotations

import random

import pytest
from mkd.config.data import AugmentConfig
from mkd.data.augment import (
    Augmenter,
    Prompt,
    company_invent,
    entity_swap,
    metric_swap,
    metric_synonym,
    number_unit,
    time_shift,
)
from mkd.data.augment import _Lexicon as Lexicon
from mkd.data.near_dup import NearDupIndex
from mkd.data.prompts_io import read_prompts


def _curated(pack) -> list[Prompt]:
    prompts, rejects = read_prompts(pack.data_file("data/curated.jsonl").read_bytes(), "curated")
    assert not rejects
    return [Prompt(p["id"], p["input"], p["id"], p["source"]) for p in prompts]


def test_operators_change_what_they_claim(gazetteers):
    lex, rng = Lexicon(gazetteers), random.Random(0)
    assert metric_synonym("Infosys net profit in FY24", rng, lex) != "Infosys net profit in FY24"
    swapped = entity_swap("What was Apple's revenue in FY2023?", rng, lex)
    assert "Apple" not in swapped and "revenue in FY2023" in swapped
    changed = number_unit("Indian startups with more than ₹1,000 crore in ARR", rng)
    assert changed.startswith("Indian startups with more than ₹") and "1,000 crore" not in changed
    assert number_unit("Revenue in 2023", rng) is None  # a year is not an amount
    shifted = time_shift("Sales in FY24 vs 2023", random.Random(1))
    assert shifted != "Sales in FY24 vs 2023" and "Sales in FY" in shifted


def test_metric_swap_reaches_every_metric_group_and_leaves_compounds(gazetteers):
    lex = Lexicon(gazetteers)
    said = {metric_swap("What was Apple's revenue in FY2023?", random.Random(i), lex)
            for i in range(400)}  # fmt: skip
    groups_reached = {
        i for i, group in enumerate(lex.metric_groups)
        if any(f"Apple's {w} in" in (s or "") for s in said for w in group)
    }  # fmt: skip
    revenue_group = next(i for i, g in enumerate(lex.metric_groups) if "revenue" in g)
    assert revenue_group not in groups_reached  # a synonym is metric_synonym's job
    assert len(groups_reached) >= 0.9 * (len(lex.metric_groups) - 1)
    assert metric_swap("loss-making startups in India", random.Random(0), lex) is None


def test_company_invent_names_a_company_no_list_holds(gazetteers):
    lex = Lexicon(gazetteers)
    for seed in range(50):
        new = company_invent("What was Apple's revenue in FY2023?", random.Random(seed), lex)
        name = new.removeprefix("What was ").split("'")[0]
        assert "Apple" not in new and new.endswith(" revenue in FY2023?")
        assert name.casefold() not in lex.country_of and name[:1].isupper()
        assert "s's" not in new  # Holdings' revenue, not Holdings's
    assert company_invent("reliance ebitda fy24", random.Random(0), lex).islower()
    assert company_invent("Revenue of fintechs in India", random.Random(0), lex) is None


@pytest.mark.slow
def test_full_pack_gives_over_2000_prompts_with_families_deterministically(pack, gazetteers):
    curated = _curated(pack)
    out = Augmenter(gazetteers, AugmentConfig(), seed=42).run(curated)
    again = Augmenter(gazetteers, AugmentConfig(), seed=42).run(curated)
    assert out == again
    assert len(out) >= 2000
    ids = {p.id for p in curated}
    assert all(p.family in ids for p in out)
    assert len({p.id for p in out}) == len(out)
    variations = [p for p in out if p.operator]
    assert all(p.id.startswith(p.family + "~") for p in variations)
    other_seed = Augmenter(gazetteers, AugmentConfig(), seed=7).run(curated[:50])
    assert [p.input for p in other_seed] != [
        p.input for p in out if p.family in {c.id for c in curated[:50]}
    ]


def test_no_exact_or_near_duplicates_survive(pack, gazetteers):
    out = Augmenter(gazetteers, AugmentConfig(), seed=1).run(_curated(pack)[:80])
    index = NearDupIndex(0.9)
    kept = [p for p in out if p.operator]
    assert all(index.add(p.input) is not None for p in kept)


def test_near_dup_index():
    index = NearDupIndex(0.7)
    assert index.add("Top 5 tech brands by net profit in 2023") == 0
    assert index.add("top 5 tech brands by net profit in 2023?") is None  # exact after normalising
    assert index.last_was_exact
    assert index.add("Top 5 tech brands by net profits in 2023") is None  # near
    assert index.add("Compare Amazon and Walmart net sales") == 1


def test_paraphraser_variations_are_kept_in_the_family(gazetteers):
    cfg = AugmentConfig(operators=["rephrase"], paraphrases_per_prompt=1, variations_per_prompt=0)
    para = lambda text, n: [f"Could you look up: {text.lower()} for me"]  # noqa: E731
    out = Augmenter(gazetteers, cfg, 0, paraphraser=para).run(
        [Prompt("a", "Apple revenue FY23", "a", "c")]
    )
    assert [(p.family, p.operator) for p in out] == [("a", None), ("a", "paraphrase")]


def test_bad_curated_lines_become_rejects():
    data = b'{"id": "a", "input": "ok"}\n{"id": "b", "input": "bad \xff"}\nnot json\n{"id": "a", "input": "dup"}\n{"input": "no id"}\n'
    prompts, rejects = read_prompts(data, "cur.jsonl")
    assert [p["id"] for p in prompts] == ["a"]
    reasons = [r["reason"] for r in rejects]
    assert "invalid UTF-8" in reasons[0] and "cur.jsonl:2" in reasons[0]
    assert "not valid JSON" in reasons[1]
    assert "duplicate id 'a'" in reasons[2]
    assert "missing" in reasons[3]


def test_the_longer_name_wins_over_a_case_sensitive_alias(gazetteers):
    lex = Lexicon(gazetteers)  # "Novo" is a case-sensitive alias of the loose "Novo Nordisk"
    (m,) = lex.find("How has Novo Nordisk's revenue grown since 2021?", lex.company_words)
    assert m.group(0) == "Novo Nordisk"
    text = "How has Novo Nordisk's revenue grown?"
    swaps = [entity_swap(text, random.Random(seed), lex) for seed in range(10)]
    assert any(swaps) and not any("Nordisk" in s for s in swaps if s)
