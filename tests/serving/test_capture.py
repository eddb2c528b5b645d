"""The feedback log: teacher answers from shadow, mirror and fallback kept in the store, batched,
size-capped, sampled, never blocking a request, pruned after the retention.

Student and teacher are the in-process handle stand-ins of test_router_guards; the Router, its
config and the store (a real local directory) are the real ones.
"""

from __future__ import annotations

import asyncio
import datetime as dt

from mkd.config.store import StoreConfig
from mkd.feedback import read_feedback
from mkd.serve.config import CaptureArgs
from mkd.storage import open_store
from mkd.store_layout import feedback_key

from serving.answering import Answerer
from serving.capture import FeedbackWriter, feedback_entry
from tests.serving.test_router_guards import FakeHandle

TASK = "query_classifier"


def _entry(i: int) -> dict:
    teacher = {"output": {"category": "LOOKUP"}, "version": "t"}
    return feedback_entry(
        task=TASK, source="shadow", query=f"q{i}", context=None, teacher=teacher,
        student=None, score=None, request_id=None,
    )  # fmt: skip


def _store(tmp_path):
    return open_store(StoreConfig(uri=f"file://{tmp_path / 'store'}"))


def test_batches_are_split_by_entries_and_bytes(tmp_path) -> None:
    store = _store(tmp_path)
    writer = FeedbackWriter(store, CaptureArgs(max_entries_per_object=3), "finance")
    for i in range(7):
        writer.add(_entry(i))
    keys = writer.flush()
    assert len(keys) == 3 and all(k.startswith("feedback/finance/") for k in keys)
    assert [r["input"] for r in read_feedback(store, "finance")] == [f"q{i}" for i in range(7)]
    small = FeedbackWriter(store, CaptureArgs(max_object_bytes=1024), "other")
    for i in range(20):
        small.add(_entry(i))
    assert all(len(store.get_bytes(k)) <= 1024 for k in small.flush())
    assert len(read_feedback(store, "other")) == 20


def test_sampling_and_a_full_buffer_are_counted_never_silent(tmp_path) -> None:
    dropped = []
    none = FeedbackWriter(_store(tmp_path), CaptureArgs(sample_rate=0.0), "finance")
    assert not none.add(_entry(0)) and not none.pending
    full = FeedbackWriter(_store(tmp_path), CaptureArgs(max_pending=2), "finance", dropped.append)
    assert [full.add(_entry(i)) for i in range(4)] == [True, True, False, False]
    assert full.dropped == 2 and dropped == [1, 1]


def test_a_store_failure_keeps_the_batch_for_the_next_flush(tmp_path) -> None:
    store = _store(tmp_path)
    writer = FeedbackWriter(store, CaptureArgs(), "finance")
    writer.add(_entry(0))
    real_put = store.put_bytes
    store.put_bytes = lambda *a, **k: (_ for _ in ()).throw(OSError("store down"))
    assert writer.flush() == [] and len(writer.pending) == 1
    store.put_bytes = real_put
    assert len(writer.flush()) == 1 and not writer.pending


def test_day_folders_past_the_retention_are_pruned(tmp_path) -> None:
    store = _store(tmp_path)
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=40)
    store.put_bytes(feedback_key("finance", old, "w", 0), b"{}\n")
    writer = FeedbackWriter(store, CaptureArgs(retention_days=30), "finance")
    writer.add(_entry(0))
    writer.flush()
    assert [r["input"] for r in read_feedback(store, "finance")] == ["q0"]


def _router(tmp_path, student_answer, user_config: dict) -> Answerer:
    args = {
        "guards": {"enabled": False},
        "store": {"uri": f"file://{tmp_path / 'store'}"},
        "capture": {"enabled": True, "flush_interval_s": 0.01},
        "router": {"user_config": user_config},
    }
    teacher = FakeHandle(lambda t, q: {"category": "LIST"})
    return Answerer.build(FakeHandle(student_answer), teacher, args)


async def _serve(router: Answerer, queries: list[str]) -> list:
    out = [(await router.answer([TASK], q, {"as_of": "2026-01-15"}, 0.0))[TASK] for q in queries]
    for _ in range(100):  # background shadow/mirror calls and the flush
        await asyncio.sleep(0.02)
        if not router.background and not router.capture.pending:
            break
    return out


def test_shadow_mirror_and_fallback_answers_reach_the_feedback_log(tmp_path) -> None:
    agreeing = lambda t, q: {"category": "LIST"}  # noqa: E731
    shadow = _router(tmp_path, agreeing, {"mode": "shadow"})
    answers = asyncio.run(_serve(shadow, ["Top banks by assets"]))
    assert answers[0].route == "teacher"
    mirror = _router(
        tmp_path, agreeing, {"mode": "split", "student_weight": 1.0, "mirror_fraction": 1.0}
    )
    asyncio.run(_serve(mirror, ["HDFC deposits"]))
    broken = _router(
        tmp_path,
        lambda t, q: {"category": "NOT-A-CATEGORY"},
        {"mode": "split", "student_weight": 1.0},
    )
    assert asyncio.run(_serve(broken, ["TCS revenue"]))[0].route == "fallback"
    rows = {r["source"]: r for r in read_feedback(_store(tmp_path), "finance")}
    assert set(rows) == {"shadow", "mirror", "fallback"}
    assert rows["shadow"]["score"] == 1.0 and rows["shadow"]["student_output"] == {
        "category": "LIST"
    }
    assert (
        rows["mirror"]["input"] == "HDFC deposits" and rows["mirror"]["teacher_version"] == "fake"
    )
    assert rows["fallback"]["student_output"] is None and rows["fallback"]["teacher_output"] == {
        "category": "LIST"
    }
    assert rows["fallback"]["context"] == {"as_of": "2026-01-15"}
    assert shadow.metrics.captured.local.labels("shadow")._value.get() == 1
