"""label_rows: pre-checks, cache hits, schema validation and quarantine reasons (no Ray)."""

from __future__ import annotations

from mkd.data.label_cache import LabelCache, cache_key
from mkd.data.labeling import LABELED, QUARANTINED, UNLABELED, label_rows, make_items
from mkd.storage import open_store
from mkd.teachers.base import LabelResult
from mkd.teachers.openai_backend import BUDGET_EXHAUSTED

PROMPTS = [
    {"id": "p1", "input": "What was Apple's revenue in FY2023?"},
    {"id": "p2", "input": "   "},
    {"id": "p3", "input": "x" * 100_000},
    {"id": "p4", "input": "What is EBITDA?", "task": "no_such_task"},
    {"id": "p5", "input": "schema breaker"},
    {"id": "p6", "input": "teacher error"},
    {"id": "p7", "input": "over budget"},
]


def _script():
    return {
        "schema breaker": LabelResult(
            "", "", raw='{"category":"NOPE"}', output={"category": "NOPE"}
        ),
        "teacher error": LabelResult(
            "", "", raw="{trunc", error="gave up after 5 attempt(s): HTTP 500"
        ),
        "over budget": LabelResult("", "", error=BUDGET_EXHAUSTED),
    }


def test_every_item_ends_labeled_or_quarantined_with_a_reason(pack, scripted, tmp_path):
    items = make_items(PROMPTS, ["query_classifier"], pack)
    teacher = scripted(_script())
    rows = {r["prompt_id"]: r for r in label_rows(items, pack, teacher, None, max_chars=4000)}
    assert rows["p1"]["status"] == LABELED and rows["p1"]["output"] == '{"category":"LOOKUP"}'
    assert rows["p2"]["reason"] == "empty prompt"
    assert rows["p3"]["reason"].startswith("prompt too long: 100000 characters")
    assert rows["p4"]["reason"].startswith("unknown task 'no_such_task'")
    assert rows["p5"]["reason"].startswith("schema:") and rows["p5"]["raw"] == '{"category":"NOPE"}'
    assert rows["p6"]["reason"].startswith("gave up") and rows["p6"]["raw"] == "{trunc"
    assert rows["p7"]["status"] == UNLABELED
    assert {r["status"] for k, r in rows.items() if k in "p2 p3 p4 p5 p6"} == {QUARANTINED}
    assert sorted(teacher.asked) == [
        "p1:query_classifier",
        "p5:query_classifier",
        "p6:query_classifier",
        "p7:query_classifier",
    ]


def test_a_backend_exception_quarantines_the_batch_not_the_job(pack, scripted):
    items = make_items([{"id": "a", "input": "boom"}], ["query_classifier"], pack)
    (row,) = label_rows(items, pack, scripted({"boom": RuntimeError("model died")}), None)
    assert row["status"] == QUARANTINED and "model died" in row["reason"]


def test_cache_skips_the_teacher_on_rerun(pack, scripted, tmp_path):
    store = open_store(f"file://{tmp_path}")
    items = make_items(PROMPTS[:1], list(pack.tasks), pack)
    first = scripted()
    label_rows(items, pack, first, LabelCache(store))
    assert len(first.asked) == 4
    second = scripted()
    rows = label_rows(items, pack, second, LabelCache(store))
    assert second.asked == [] and all(r["cached"] for r in rows)
    assert len(store.list("label-cache/")) == 4


def test_cache_key_covers_everything_the_label_depends_on():
    base = ("query_classifier", "q", {"as_of": "2026-01-15"}, "t", "1")
    key = cache_key(*base)
    for i, changed in enumerate(["entity_extractor", "q2", {"as_of": "2025-01-01"}, "t2", "2"]):
        variant = list(base)
        variant[i] = changed
        assert cache_key(*variant) != key


def test_items_carry_as_of_and_family(pack):
    (item,) = make_items([{"id": "x~01", "input": "q", "family": "x"}], ["query_classifier"], pack)
    assert item["id"] == "x~01:query_classifier" and item["family"] == "x"
    assert item["context_json"] == '{"as_of":"2026-01-15"}'
