"""date_interpretation rules of the reference teacher: the spec's cases and the fuzzy ones."""

from __future__ import annotations

import pytest
from mkd.tasks import load_pack
from mkd.teachers.reference import ReferenceLabeler

AS_OF = {"as_of": "2026-01-15"}


@pytest.fixture(scope="module")
def labeler() -> ReferenceLabeler:
    return ReferenceLabeler(load_pack("finance"))


def dates(labeler: ReferenceLabeler, text: str, context: dict | None = None) -> list[tuple]:
    items = labeler.predict("date_interpretation", text, context or AS_OF)
    return [(i["phrase"], i["date_period"], i["start"], i["end"]) for i in items]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Sales trend over the last 7 fiscal years", [("last 7 fiscal years", "FY", "2019-01-01", "2025-12-31")]),
        ("How many unicorns did AI create since 2023", [("since 2023", "YEAR", "2023-01-01", None)]),
        ("What was Apple's revenue in FY2023?", [("FY2023", "FY", "2023-01-01", "2023-12-31")]),
        ("paytm revenue q2 fy25", [("q2 fy25", "QUARTER", "2025-04-01", "2025-06-30")]),
        ("Tesla EPS Q3'23", [("Q3'23", "QUARTER", "2023-07-01", "2023-09-30")]),
        ("LVMH revenue H1 2024", [("H1 2024", "UNSPECIFIED", "2024-01-01", "2024-06-30")]),
        ("Toyota net income trend 2015-2024", [("2015-2024", "YEAR", "2015-01-01", "2024-12-31")]),
        ("revenue between 2020–2025", [("between 2020–2025", "YEAR", "2020-01-01", "2025-12-31")]),
        ("OpenAI revenue from 2022 to 2025", [("from 2022 to 2025", "YEAR", "2022-01-01", "2025-12-31")]),
        ("JLR margins over FY22-FY25", [("FY22-FY25", "FY", "2022-01-01", "2025-12-31")]),
        ("What will Nvidia report next quarter?", [("next quarter", "QUARTER", "2026-04-01", "2026-06-30")]),
        ("Zomato EBITDA over the last few quarters", [("last few quarters", "QUARTER", "2025-04-01", "2025-12-31")]),
        ("funding post-Covid", [("post-Covid", "UNSPECIFIED", "2020-03-01", None)]),
        ("Nikkei stocks YTD", [("YTD", "YEAR", "2026-01-01", "2026-01-15")]),
        ("gainers this week", [("this week", "WEEK", "2026-01-12", "2026-01-18")]),
        ("NPA before 2018", [("before 2018", "YEAR", None, "2017-12-31")]),
        ("growth slowed after 2021", [("after 2021", "YEAR", "2022-01-01", None)]),
        ("backlog at the end of 2026", [("end of 2026", "DAY", "2026-12-31", "2026-12-31")]),
        ("net debt as of 31 March 2025", [("31 March 2025", "DAY", "2025-03-31", "2025-03-31")]),
        ("share price today", [("today", "DAY", "2026-01-15", "2026-01-15")]),
        ("rate cuts in the coming quarters", [("coming quarters", "QUARTER", "2026-04-01", "2026-12-31")]),
        ("net profit from Q1 FY24 to Q3 FY25", [("from Q1 FY24 to Q3 FY25", "QUARTER", "2024-01-01", "2025-09-30")]),
        ("profit for the year ended August 2024", [("year ended August 2024", "FY", "2023-09-01", "2024-08-31")]),
    ],
)  # fmt: skip
def test_spec_and_fuzzy_phrases(labeler: ReferenceLabeler, text: str, expected: list) -> None:
    assert dates(labeler, text) == expected


def test_two_periods_stay_two_items_in_order(labeler: ReferenceLabeler) -> None:
    got = dates(labeler, "Compare Apple's revenue in FY2023 and FY2024")
    assert [g[0] for g in got] == ["FY2023", "FY2024"]
    got = dates(labeler, "Infosys vs TCS EBIT margin this quarter vs last quarter")
    assert got == [
        ("this quarter", "QUARTER", "2026-01-01", "2026-03-31"),
        ("last quarter", "QUARTER", "2025-10-01", "2025-12-31"),
    ]


def test_relative_phrases_follow_as_of(labeler: ReferenceLabeler) -> None:
    got = dates(labeler, "uber profit last quarter", {"as_of": "2025-06-30"})
    assert got == [("last quarter", "QUARTER", "2025-01-01", "2025-03-31")]


def test_numbers_that_are_not_years(labeler: ReferenceLabeler) -> None:
    assert dates(labeler, "Top 10 S&P 500 companies with revenue over 2000 crore") == []
    assert dates(labeler, "What does YTD mean in finance?") == []
    assert dates(labeler, "yoy growth in a row") == []


def test_missing_or_bad_as_of_uses_the_pack_default(labeler: ReferenceLabeler) -> None:
    expected = [("next year", "YEAR", "2027-01-01", "2027-12-31")]
    assert dates(labeler, "outlook next year", {"as_of": "not a date"}) == expected
    assert (
        labeler.predict("date_interpretation", "outlook next year", None)[0]["start"]
        == "2027-01-01"
    )


def test_fiscal_year_start_month_shifts_fiscal_periods() -> None:
    from datetime import date

    from mkd.teachers.reference.dates import interpret_dates

    april = interpret_dates("FY24 and Q1 FY24", date(2026, 1, 15), fy_start=4)
    assert [(i["start"], i["end"]) for i in april] == [
        ("2023-04-01", "2024-03-31"),
        ("2023-04-01", "2023-06-30"),
    ]
