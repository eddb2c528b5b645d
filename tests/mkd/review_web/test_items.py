"""Which items the review page lists, and how two answers' differences are marked."""

from __future__ import annotations

import json

from mkd.data.review import sample_for_review
from mkd.review_web.diff import diff_html, differing_paths
from mkd.review_web.items import (
    collect_items,
    disagreement_items,
    guard_items,
    load_source,
    sampled_items,
)
from mkd.store_layout import latest_eval_id, work_prefix

from .conftest import predictions, quarantine, records


def test_sampled_items_are_the_review_export_sample():
    recs = records()
    items = sampled_items(recs, per_task=3, seed=7)
    assert [i.id for i in items] == [r["id"] for r in sample_for_review(recs, 3, 7)]
    first = next(r for r in recs if r["id"] == items[0].id)
    assert (items[0].teacher, items[0].kinds, items[0].as_of) == (
        first["output"],
        ["sample"],
        "2026-01-15",
    )


def test_disagreements_rank_by_lowest_agreement_and_match_records(pack):
    recs = records()
    student, teacher = predictions(recs)
    items = disagreement_items(pack, recs, student, teacher, limit=10)
    # agreement 0 (wrong category), 0 (not JSON), then 0.5 (one of two entities); agreeing
    # items and the query that is no record of this version are left out
    assert [(i.id, i.agreement) for i in items] == [
        ("f0~0:query_classifier", 0.0),
        ("f1~1:query_classifier", 0.0),
        ("e0~0:entity_extractor", 0.5),
    ]
    assert items[0].teacher == recs[0]["output"] and items[0].student == '{"category": "COUNT"}'
    assert [i.id for i in disagreement_items(pack, recs, student, teacher, limit=1)] == [
        "f0~0:query_classifier"
    ]


def test_disagreement_scores_against_the_label_where_the_teacher_answer_is_invalid(pack):
    recs = records()[:1]
    student = [{"input": recs[0]["input"], "task": recs[0]["task"], "output": recs[0]["output"]}]
    teacher = [{**student[0], "output": "garbage", "violation": "unparseable JSON"}]
    assert disagreement_items(pack, recs, student, teacher, limit=5) == []


def test_guard_items_are_the_guard_flagged_quarantine_rows():
    items = guard_items(quarantine())
    assert [(i.id, i.input, i.reason, i.teacher) for i in items] == [
        ("g1~0:query_classifier", "call me at [PHONE]", "guard: input.pii", None)
    ]


def test_latest_evaluation_and_collected_items(pack, review_store):
    rs = review_store
    assert latest_eval_id(rs.store) == rs.eval_id  # newest evaluation; the export is ignored
    source = load_source(
        rs.store, work_prefix(rs.cfg.data.dataset, rs.cfg.data.version), "datasets/finance/r1/"
    )
    assert source.problems == []
    items = collect_items(pack, source, per_task=3, disagreements=10, seed=rs.cfg.seed)
    ids = [i.id for i in items]
    assert len(ids) == len(set(ids))  # one item per record, kinds merged
    assert ids[:3] == ["f0~0:query_classifier", "f1~1:query_classifier", "e0~0:entity_extractor"]
    assert items[-1].kinds == ["guard"]
    sampled = [i for i in items if "sample" in i.kinds]
    assert len(sampled) == 6  # 3 per task, 2 tasks
    # every item that was evaluated shows the student's answer, whatever listed it
    assert all(i.student is not None for i in items if "guard" not in i.kinds)


def test_missing_evaluation_is_a_note_not_an_error(pack, review_store):
    rs = review_store
    for key in rs.store.list("evals/"):
        rs.store.delete(key)
    source = load_source(
        rs.store, work_prefix(rs.cfg.data.dataset, rs.cfg.data.version), "datasets/finance/r1/"
    )
    assert source.eval_id is None and "no evaluation report" in source.problems[0]
    items = collect_items(pack, source, per_task=3, disagreements=10, seed=1)
    assert {k for i in items for k in i.kinds} == {"sample", "guard"}


def test_differences_are_marked_key_by_key():
    teacher = json.dumps([{"name": "Acme", "type": "COMPANY"}, {"name": "EPS", "type": "METRIC"}])
    student = json.dumps([{"name": "Acme", "type": "SECTOR"}])
    assert differing_paths(teacher, student) == ["/0/type", "/1"]
    html = str(diff_html(teacher, student))
    assert '<mark class="diff">&#34;COMPANY&#34;</mark>' in html
    assert '"Acme"' not in html and "&#34;Acme&#34;" in html  # escaped, not marked
    assert html.count('<mark class="diff">') == 2
    assert differing_paths('{"category":"LIST"}', '{"category": "LIST"}') == []
    assert "<mark" not in str(diff_html('{"a": 1}', None))
    assert str(diff_html(None, "{}")) == '<span class="none">no answer</span>'
    assert str(diff_html("<b>raw</b>", "{}")) == "&lt;b&gt;raw&lt;/b&gt;"
    missing_key = str(diff_html('{"a": 1, "b": 2}', '{"a": 1}'))
    assert '<mark class="diff">&#34;b&#34;: 2</mark>' in missing_key
