"""ReferenceTeacher behind the TeacherBackend protocol, and odd input never raising."""

from __future__ import annotations

import json

import pytest
from mkd.tasks import load_pack
from mkd.teachers.base import LabelRequest, TeacherBackend
from mkd.teachers.reference import LABELER_VERSION, ReferenceLabeler, ReferenceTeacher
from mkd.teachers.reference.__main__ import main

PACK = load_pack("finance")


def test_teacher_implements_the_protocol_with_canonical_raw_and_usage() -> None:
    teacher = ReferenceTeacher(PACK)
    assert isinstance(teacher, TeacherBackend)
    assert teacher.teacher_id == f"reference/{LABELER_VERSION}"
    batch = [
        LabelRequest(
            "a", "currency_identifier", "Indian startups with more than ₹1,000 crore in ARR"
        ),
        LabelRequest("b", "date_interpretation", "since 2023", {"as_of": "2026-01-15"}),
    ]
    first, second = teacher.label(batch)
    assert first.ok and first.raw == '{"currency":"INR","mention":"explicit","symbol":"₹"}'
    assert first.output == json.loads(first.raw)
    assert second.output == [
        {"phrase": "since 2023", "date_period": "YEAR", "start": "2023-01-01", "end": None}
    ]
    # the prompt an LLM teacher would see (instruction, schema, examples) is counted
    assert first.usage.prompt_tokens > 100 and first.usage.completion_tokens >= len(first.raw) // 4


def test_unknown_task_is_an_item_error_not_an_exception() -> None:
    (result,) = ReferenceTeacher(PACK).label([LabelRequest("x", "sentiment", "hello")])
    assert not result.ok and "unknown task 'sentiment'" in result.error


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "a" * 100_000,
        "9" * 100_000,
        "\x00\x1b[31m \ud800 🤖 ＦＹ２０２３",
        "₹" * 5000,
        None,
        42,
    ],
)
def test_odd_input_gets_a_schema_valid_answer(text) -> None:
    labeler = ReferenceLabeler(PACK)
    for name, spec in PACK.tasks.items():
        assert spec.schema_errors(labeler.predict(name, text, {"as_of": 12})) == []


def test_empty_input_gets_the_empty_answers() -> None:
    labeler = ReferenceLabeler(PACK)
    assert labeler.predict("entity_extractor", "") == []
    assert labeler.predict("date_interpretation", "") == []
    assert labeler.predict("currency_identifier", "")["mention"] == "none"


def test_module_main_prints_the_accuracy_table(capsys: pytest.CaptureFixture) -> None:
    assert main(["--gold", "--sample", "holdout"]) == 0
    out = capsys.readouterr().out
    assert "query_classifier" in out and "date_interpretation" in out
