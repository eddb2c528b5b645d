"""entity_extractor rules of the reference teacher."""

from __future__ import annotations

import pytest
from mkd.tasks import load_pack
from mkd.teachers.reference import ReferenceLabeler


@pytest.fixture(scope="module")
def labeler() -> ReferenceLabeler:
    return ReferenceLabeler(load_pack("finance"))


def pairs(labeler: ReferenceLabeler, text: str) -> list[tuple[str, str]]:
    return [(e["name"], e["type"]) for e in labeler.predict("entity_extractor", text)]


def test_spec_example(labeler: ReferenceLabeler) -> None:
    assert pairs(labeler, "Compare Amazon and Walmart net sales in India") == [
        ("Amazon", "COMPANY"),
        ("Walmart", "COMPANY"),
        ("net sales", "METRIC"),
        ("India", "GEOGRAPHY"),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("What was Apple's revenue in FY2023?", [("Apple", "COMPANY"), ("revenue", "METRIC")]),
        ("State Bank of India gross NPA", [("State Bank of India", "COMPANY"), ("gross NPA", "METRIC")]),
        ("Why did Alibaba's revenue growth slow?", [("Alibaba", "COMPANY"), ("revenue growth", "METRIC")]),
        ("reliance share price trend", [("reliance", "COMPANY"), ("share price", "METRIC")]),
        ("Total VC funding into fintech in 2022", [("VC funding", "METRIC"), ("fintech", "SECTOR")]),
        ("Top 10 Indian banks by market cap", [("Indian", "GEOGRAPHY"), ("banks", "SECTOR"), ("market cap", "METRIC")]),
        ("how has the sensex performed since the election", []),
    ],
)  # fmt: skip
def test_entities(labeler: ReferenceLabeler, text: str, expected: list) -> None:
    assert pairs(labeler, text) == expected


def test_words_that_collide_with_names_need_their_case(labeler: ReferenceLabeler) -> None:
    assert pairs(labeler, "tell us about the revenue target") == [("revenue", "METRIC")]
    assert ("US", "GEOGRAPHY") in pairs(labeler, "US banks with deposits over $500 billion")


def test_repeated_entity_is_reported_once(labeler: ReferenceLabeler) -> None:
    got = pairs(labeler, "How do European banks compare with US banks on ROE?")
    assert got.count(("banks", "SECTOR")) == 1
