"""date_swap: one time phrase becomes a phrase of another kind that the teacher resolves."""

from __future__ import annotations

import random

from mkd.data.date_swap import date_phrases, date_swap, new_date_phrase


def test_swaps_one_phrase_and_its_preposition():
    for seed in range(60):
        out = date_swap("What was Apple's revenue in FY2023?", random.Random(seed))
        assert out.startswith("What was Apple's revenue ") and out.endswith("?")
        assert "FY2023" not in out
        assert " in in " not in out and " in over " not in out and " in ytd" not in out.lower()


def test_no_phrase_or_a_qualifying_phrase_is_left_alone():
    assert date_swap("What is EBITDA?", random.Random(0)) is None
    assert date_swap("What does YTD mean in finance?", random.Random(0)) is None
    # "FY27" qualifies the noun after it: another kind of phrase would not read.
    assert date_swap("What is Infosys' FY27 revenue growth guidance?", random.Random(0)) is None
    # part of a longer phrase the patterns do not hold whole
    assert date_swap("where will the nifty be by end of 2026", random.Random(0)) is None


def test_a_range_is_one_phrase():
    [m] = date_phrases("Revenue trajectory of OpenAI from 2022 to 2025")
    assert m.group(0) == "from 2022 to 2025"
    listed = date_phrases("Compare Q2 2023 and Q3 2024 net debt")
    assert [m.group(0) for m in listed] == ["Q2 2023", "Q3 2024"]


def test_phrases_cover_the_kinds_the_contract_resolves(pack):
    from mkd.teachers.reference import ReferenceLabeler

    labeler = ReferenceLabeler(pack)
    periods, unresolved = set(), []
    for seed in range(300):
        phrase = new_date_phrase(random.Random(seed))
        items = labeler.predict("date_interpretation", f"Apple revenue {phrase}")
        if not items:
            unresolved.append(phrase)
        periods |= {item["date_period"] for item in items}
        periods |= {"open-ended" for item in items if None in (item["start"], item["end"])}
    assert not unresolved
    assert {"YEAR", "FY", "QUARTER", "MONTH", "WEEK", "DAY", "UNSPECIFIED", "open-ended"} <= periods
