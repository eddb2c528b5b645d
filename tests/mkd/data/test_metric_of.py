"""metric_of: a possessive company moves behind its metric; the teacher's answers stay the same."""

from __future__ import annotations

import json
import random

import pytest
import yaml
from mkd.data.augment import OPERATORS, _Lexicon
from mkd.data.metric_of import metric_of
from mkd.tasks import load_pack
from mkd.teachers.reference import ReferenceLabeler

TASKS = ["query_classifier", "entity_extractor", "currency_identifier", "date_interpretation"]


@pytest.fixture(scope="module")
def pack():
    return load_pack("finance")


@pytest.fixture(scope="module")
def lex(pack) -> _Lexicon:
    return _Lexicon(yaml.safe_load(pack.data_file("data/gazetteers.yaml").read_text()))


def test_moves_the_company_behind_its_metric(lex):
    outs = {
        metric_of("What was Apple's revenue in FY2023?", random.Random(s), lex) for s in range(20)
    }
    assert outs == {
        "What was the revenue of Apple in FY2023?",
        "What was the revenue for Apple in FY2023?",
    }
    assert metric_of("Infosys' operating margin in FY24", random.Random(0), lex).startswith(
        "operating margin "
    )
    # a second "for" would not read: "net interest margin for HDFC Bank for Q2 2024"
    for seed in range(20):
        out = metric_of("HDFC Bank's net interest margin for Q2 2024", random.Random(seed), lex)
        assert out == "net interest margin of HDFC Bank for Q2 2024"


def test_leaves_other_shapes_alone(lex):
    assert metric_of("What is the revenue of Apple?", random.Random(0), lex) is None
    assert metric_of("What is EBITDA?", random.Random(0), lex) is None
    # a name inside a longer one ("Amazon AWS") is not a possessive company
    assert metric_of("Amazon AWS operating income Q3 2024", random.Random(0), lex) is None


def test_registered_as_an_operator():
    assert OPERATORS["metric_of"] is metric_of


def test_the_reference_teacher_answers_every_variation_as_its_curated_query(pack, lex):
    """Only the order changes: same category, currency and dates, same entities, and the
    company now comes after the metric in the entity list (the order the student must learn)."""
    labeler = ReferenceLabeler(pack)
    changed = 0
    for line in pack.data_file("data/curated.jsonl").read_text().splitlines():
        query = json.loads(line)["input"]
        new = metric_of(query, random.Random(7), lex)
        if new is None:
            continue
        changed += 1
        for task in TASKS:
            old_answer, new_answer = labeler.predict(task, query), labeler.predict(task, new)
            if task == "entity_extractor":
                assert sorted(map(json.dumps, old_answer)) == sorted(map(json.dumps, new_answer))
                types = [e["type"] for e in new_answer]
                assert "METRIC" in types and "COMPANY" in types[types.index("METRIC") :], new
            else:
                assert old_answer == new_answer, (task, query, new)
    assert changed >= 60  # a sixth of the curated prompts have a company before its metric
