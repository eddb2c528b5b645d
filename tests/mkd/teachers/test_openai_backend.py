"""The openai backend against a real HTTP server: concurrency, retries, faults, cost, budget."""

from __future__ import annotations

import json
import time

import pytest
from mkd.config.teacher import PriceTable, TeacherConfig
from mkd.services.ports import free_ports
from mkd.teachers.base import LabelRequest
from mkd.teachers.openai_backend import BUDGET_EXHAUSTED, OpenAITeacher
from mkd.teachers.server import BackgroundServer, FaultPlan, TeacherServer


@pytest.fixture
def server(pack, fake_teacher, tmp_path):
    """Start a teacher server with the given faults; yields (base_url, request log path)."""
    running = []

    def start(**faults):
        log = tmp_path / f"log{len(running)}.jsonl"
        srv = TeacherServer(fake_teacher, pack, FaultPlan(**faults), request_log=log)
        bg = BackgroundServer(srv.app, free_ports(1)[0]).__enter__()
        running.append((bg, srv))
        return bg.url, log

    yield start
    for bg, srv in running:
        bg.__exit__(None)
        srv.close()


def _cfg(url: str, **kw) -> TeacherConfig:
    base = {"base_url": url, "backoff_base_s": 0.01, "backoff_max_s": 0.05, "timeout_s": 5}
    return TeacherConfig(**{**base, **kw})


def _requests(n: int, task: str = "currency_identifier") -> list[LabelRequest]:
    return [LabelRequest(f"i{k}", task, f"Startup {k} above ₹{k} crore") for k in range(n)]


def test_labels_a_batch_in_order_with_usage_and_cost(pack, server):
    url, log = server()
    price = PriceTable(input_per_1m=1.0, output_per_1m=2.0)
    teacher = OpenAITeacher(_cfg(url, price=price), pack)
    results = teacher.label(_requests(20))
    assert [r.id for r in results] == [f"i{k}" for k in range(20)]
    assert all(r.ok and r.output["currency"] == "INR" for r in results)
    u = teacher.usage
    assert u.prompt_tokens > 0 and u.completion_tokens > 0
    assert u.cost_usd == pytest.approx((u.prompt_tokens * 1 + u.completion_tokens * 2) / 1e6)
    logged = {json.loads(line)["item_id"] for line in log.read_text().splitlines()}
    assert logged == {f"i{k}" for k in range(20)}


def test_an_id_beyond_ascii_is_labeled_and_logged_as_written(pack, server):
    # header values are ASCII: a raw "é" made httpx raise for the whole batch
    url, log = server()
    ids = ["fin-0235~cover-l-oréal", "i1"]
    batch = [LabelRequest(i, "currency_identifier", "L'Oréal revenue in FY2024") for i in ids]
    results = OpenAITeacher(_cfg(url), pack).label(batch)
    assert all(r.ok for r in results), [r.error for r in results]
    logged = {json.loads(line)["item_id"] for line in log.read_text().splitlines()}
    assert logged == set(ids)


def test_an_item_that_raises_fails_alone_and_its_batch_is_kept(pack, server):
    # a lone surrogate cannot be encoded as UTF-8: httpx raises while sending that one item,
    # which used to take the whole batch's answers (already paid for) down with it
    url, log = server()
    batch = [LabelRequest("bad", "currency_identifier", "revenue \ud800 of Apple")]
    batch += _requests(3)
    results = OpenAITeacher(_cfg(url), pack).label(batch)
    assert results[0].error.startswith("teacher failed: UnicodeEncodeError")
    assert all(r.ok for r in results[1:]), [r.error for r in results[1:]]
    assert len(log.read_text().splitlines()) == 3


def test_concurrency_overlaps_latency(pack, server):
    url, _ = server(latency_ms=300)
    teacher = OpenAITeacher(_cfg(url, concurrency=16), pack)
    started = time.monotonic()
    results = teacher.label(_requests(16))
    elapsed = time.monotonic() - started
    assert all(r.ok for r in results)
    assert elapsed < 16 * 0.3 / 2  # far from sequential: requests overlapped


def test_retries_every_fault_kind_until_success(pack, server):
    url, log = server(fail_rate=0.5, retry_after_s=0.05, hang_s=1.0, seed=3)
    teacher = OpenAITeacher(_cfg(url, timeout_s=0.5, max_retries=12), pack)
    results = teacher.label(_requests(30))
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    faults = {json.loads(line)["fault"] for line in log.read_text().splitlines()}
    assert {"429", "500", "timeout", "malformed", "truncated"} <= faults


def test_gives_up_with_the_last_reason(pack, server):
    url, _ = server(fail_rate=1.0, kinds=("500",))
    results = OpenAITeacher(_cfg(url, max_retries=2), pack).label(_requests(2))
    assert all(r.error.startswith("gave up after 3 attempt(s): HTTP 500") for r in results)


def test_honours_retry_after(pack, server):
    url, _ = server(fail_rate=1.0, kinds=("429",), retry_after_s=0.4)
    started = time.monotonic()
    OpenAITeacher(_cfg(url, max_retries=2), pack).label(_requests(1))
    assert time.monotonic() - started >= 0.8  # two sleeps of at least Retry-After


def test_malformed_answer_kept_as_raw_when_not_retried(pack, server):
    url, _ = server(fail_rate=1.0, kinds=("truncated",))
    cfg = _cfg(url, retry_invalid_json=False)
    (result,) = OpenAITeacher(cfg, pack).label(_requests(1))
    assert "malformed JSON" in result.error and result.raw


def test_unknown_task_is_an_error_not_a_request(pack, server):
    url, log = server()
    (result,) = OpenAITeacher(_cfg(url), pack).label([LabelRequest("x", "nope", "q")])
    assert "unknown task 'nope'" in result.error
    assert not log.exists() or not log.read_text()


def test_client_side_rate_limit(pack, server):
    url, _ = server()
    teacher = OpenAITeacher(_cfg(url, rate_limit_rps=20, concurrency=8), pack)
    started = time.monotonic()
    teacher.label(_requests(11))
    assert time.monotonic() - started >= 0.45  # 11 starts spaced 1/20 s apart


def test_budget_cap_stops_cleanly(pack, server):
    url, log = server()
    price = PriceTable(input_per_1m=1000.0)  # ~$0.3 per request with a ~300-token prompt
    cfg = _cfg(url, price=price, budget_usd=1.0, concurrency=1)
    teacher = OpenAITeacher(cfg, pack)
    results = teacher.label(_requests(20))
    done = [r for r in results if r.ok]
    assert 1 <= len(done) < 20
    assert all(r.error == BUDGET_EXHAUSTED for r in results if not r.ok)
    assert len(log.read_text().splitlines()) == len(done)  # nothing sent once spent


def test_connection_refused_is_retried_then_reported(pack):
    port = free_ports(1)[0]
    cfg = _cfg(f"http://127.0.0.1:{port}/v1", max_retries=1)
    (result,) = OpenAITeacher(cfg, pack).label(_requests(1))
    assert "connection error" in result.error
