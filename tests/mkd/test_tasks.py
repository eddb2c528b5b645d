"""Task packs: the finance pack matches the spec; user packs load from a directory."""

from __future__ import annotations

import shutil

import pytest
from mkd.records import canonical_json
from mkd.tasks import available_packs, load_pack, student_messages, teacher_messages


def test_finance_pack_has_the_four_tasks(pack) -> None:
    assert list(pack.tasks) == [
        "query_classifier",
        "entity_extractor",
        "currency_identifier",
        "date_interpretation",
    ]
    assert "finance" in available_packs()
    enum = pack.task("query_classifier").output_schema["properties"]["category"]["enum"]
    assert len(enum) == 10


@pytest.mark.parametrize(
    "task", ["query_classifier", "entity_extractor", "currency_identifier", "date_interpretation"]
)
def test_every_few_shot_example_is_schema_valid(pack, task) -> None:
    spec = pack.task(task)
    assert spec.examples
    for ex in spec.examples:
        assert spec.schema_errors(ex.output) == [], ex.input


def test_schema_rules_of_the_spec(pack) -> None:
    cur = pack.task("currency_identifier")
    assert cur.schema_errors({"currency": None, "symbol": None, "mention": "none"}) == []
    assert cur.schema_errors({"currency": "INR", "symbol": "₹", "mention": "none"})
    assert cur.schema_errors({"currency": "inr", "symbol": "₹", "mention": "explicit"})
    dates = pack.task("date_interpretation")
    assert dates.schema_errors(
        [{"phrase": "x", "date_period": "DAY", "start": "2024-1-1", "end": None}]
    )


def test_student_prompt_is_much_shorter_than_teacher_prompt(pack) -> None:
    task = pack.task("entity_extractor")
    s = student_messages(pack, task, "Compare Amazon and Walmart", None)
    t = teacher_messages(pack, task, "Compare Amazon and Walmart", {"as_of": "2025-06-30"})
    assert s[-1]["content"] == "Compare Amazon and Walmart\n2026-01-15\nentity_extractor"
    assert "as_of: 2025-06-30" in t[-1]["content"]
    assert len(str(t)) > 4 * len(str(s))
    assert canonical_json(task.examples[0].output) in str(t)


def test_user_pack_from_directory(tmp_path, pack) -> None:
    shutil.copytree(pack.root, tmp_path / "mypack", ignore=shutil.ignore_patterns("data"))
    p = load_pack(str(tmp_path / "mypack"))
    assert p.root == tmp_path / "mypack"
    with pytest.raises(KeyError, match="unknown task 'nope'"):
        p.task("nope")
    with pytest.raises(FileNotFoundError, match="no task pack"):
        load_pack(str(tmp_path / "missing"))


def test_answer_text_orders_keys_as_the_schema_and_keeps_the_value():
    import json

    from mkd.records import canonical_json
    from mkd.tasks import load_pack
    from mkd.tasks.prompts import answer_text

    pack = load_pack("finance")
    for task in pack.tasks.values():
        for ex in task.examples:
            text = answer_text(ex.output, task.output_schema)
            assert json.loads(text) == ex.output
            assert len(text) == len(canonical_json(ex.output))  # compact, UTF-8 kept
    currency = pack.task("currency_identifier").output_schema
    value = {"symbol": None, "mention": "none", "currency": None}
    assert answer_text(value, currency) == '{"mention":"none","currency":null,"symbol":null}'
    assert answer_text({"z": 1, "currency": "USD"}, currency) == '{"currency":"USD","z":1}'
