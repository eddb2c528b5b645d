"""query_classifier rules of the reference teacher: one query per category plus overlaps."""

from __future__ import annotations

import pytest
from mkd.tasks import load_pack
from mkd.teachers.reference import ReferenceLabeler


@pytest.fixture(scope="module")
def labeler() -> ReferenceLabeler:
    return ReferenceLabeler(load_pack("finance"))


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("What was Apple's revenue in FY2023?", "LOOKUP"),
        ("Top 5 tech brands by net profit", "LIST"),
        ("Indian startups with more than ₹1,000 crore in ARR", "SCREEN"),
        ("Compare Amazon and Walmart net sales", "COMPARE"),
        ("Sales trend over the last 7 fiscal years", "TREND"),
        ("How many unicorns did AI create since 2023", "COUNT"),
        ("Total VC funding into fintech in 2022", "AGGREGATE"),
        ("What revenue is Nvidia expected to report next quarter?", "FORECAST"),
        ("Why did Tesla's margins fall in 2023?", "EXPLAIN"),
        ("What is EBITDA?", "DEFINITION"),
        # overlaps settled by the documented order
        ("List Indian startups with more than ₹1,000 crore in ARR", "SCREEN"),
        ("How many Indian startups have ARR above ₹100 crore?", "COUNT"),
        ("How many times did Infosys cut its revenue guidance in FY24?", "COUNT"),
        ("Total revenue of the top 5 Chinese tech companies in 2023", "AGGREGATE"),
        ("Largest Chinese banks by total assets", "LIST"),
        ("Which had higher EPS in 2024: JPMorgan or Bank of America?", "COMPARE"),
        ("What is the P/E ratio of TCS?", "LOOKUP"),
        ("What does ARR mean?", "DEFINITION"),
        ("how many bucks did uber make last quarter", "LOOKUP"),
        ("Apple's iPhone revenue over the past five years", "TREND"),
        ("nvidia price target 2026", "FORECAST"),
        ("wat is ebita", "DEFINITION"),
        # a conversational lead-in changes nothing
        ("Quick question: what is EBITDA?", "DEFINITION"),
        ("Can you tell me what is a decacorn?", "DEFINITION"),
        ("Could you please explain free float market cap?", "DEFINITION"),
        ("Please show median valuation of US AI startups at series A", "AGGREGATE"),
        ("Tell me Apple's revenue in FY2023", "LOOKUP"),
    ],
)
def test_category(labeler: ReferenceLabeler, text: str, category: str) -> None:
    assert labeler.predict("query_classifier", text) == {"category": category}


def test_rephrase_lead_ins_keep_every_curated_category(labeler: ReferenceLabeler) -> None:
    """The `rephrase` operator's lead-ins ask the same question: the label must not move."""
    import json

    from mkd.data.augment import _PREFIXES

    pack = load_pack("finance")
    moved = []
    for line in pack.data_file("data/curated.jsonl").read_text().splitlines():
        query = json.loads(line)["input"]
        want = labeler.predict("query_classifier", query)
        body = query[:1].lower() + query[1:] if query[:2].istitle() else query
        moved += [
            (lead + body, want)
            for lead in _PREFIXES
            if labeler.predict("query_classifier", lead + body) != want
        ]
    assert not moved, moved[:5]
