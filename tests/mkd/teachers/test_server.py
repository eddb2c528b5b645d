"""The OpenAI-compatible teacher server: task recovery, usage, faults and the request log."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from mkd.services.ports import free_ports, wait_for_port
from mkd.tasks import teacher_messages
from mkd.teachers.server import (
    BackgroundServer,
    BadRequest,
    FaultPlan,
    TeacherServer,
    input_hash,
    recover_request,
)


def _body(pack, task: str, query: str, as_of: str = "2026-01-15", model: str = "mkd-teacher"):
    msgs = teacher_messages(pack, pack.task(task), query, {"as_of": as_of})
    return {"model": model, "messages": msgs, "response_format": {"type": "json_object"}}


def test_recovers_task_and_query_from_the_teacher_prompt(pack):
    for task in pack.tasks:
        got = recover_request(pack, _body(pack, task, "Compare TCS and Infosys\nmargins"))
        assert got == (task, "Compare TCS and Infosys\nmargins", {"as_of": "2026-01-15"})


def test_model_name_names_the_task(pack):
    body = {"model": "mkd-currency_identifier", "messages": [{"role": "user", "content": "x"}]}
    assert recover_request(pack, body) == ("currency_identifier", "x", None)


def test_unknown_task_is_a_clear_bad_request(pack):
    body = {"model": "gpt", "messages": [{"role": "system", "content": "Translate"}]}
    with pytest.raises(BadRequest, match="cannot tell the task"):
        recover_request(pack, body)


@pytest.fixture
def served(pack, fake_teacher, tmp_path):
    def start(**faults):
        log = tmp_path / "requests.jsonl"
        server = TeacherServer(fake_teacher, pack, FaultPlan(**faults), request_log=log)
        bg = BackgroundServer(server.app, free_ports(1)[0])
        bg.__enter__()
        started.append((bg, server))
        return bg.url, log

    started: list = []
    yield start
    for bg, server in started:
        bg.__exit__(None)
        server.close()


def test_chat_completion_answers_with_usage_and_logs_the_item(pack, served):
    url, log = served()
    body = _body(pack, "currency_identifier", "Startups above ₹500 crore")
    resp = httpx.post(f"{url}/chat/completions", json=body, headers={"X-MKD-Item-Id": "a1"})
    assert resp.status_code == 200
    data = resp.json()
    answer = json.loads(data["choices"][0]["message"]["content"])
    assert answer == {"currency": "INR", "symbol": "₹", "mention": "explicit"}
    usage = data["usage"]
    assert usage["prompt_tokens"] > 100 and usage["completion_tokens"] > 5
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    (entry,) = [json.loads(line) for line in log.read_text().splitlines()]
    assert entry["item_id"] == "a1" and entry["status"] == 200
    assert entry["input_sha256"] == input_hash(
        "currency_identifier", "Startups above ₹500 crore", "2026-01-15"
    )
    models = httpx.get(f"{url}/models").json()["data"]
    assert {"mkd-teacher", "mkd-date_interpretation"} <= {m["id"] for m in models}


def test_bad_requests_get_400_with_a_message(pack, served):
    url, _ = served()
    resp = httpx.post(f"{url}/chat/completions", content=b"{not json")
    assert resp.status_code == 400 and "error" in resp.json()
    resp = httpx.post(f"{url}/chat/completions", json={"model": "x", "messages": []})
    assert resp.status_code == 400 and "messages" in resp.json()["error"]["message"]


@pytest.mark.parametrize("kind", ["429", "500", "malformed", "truncated"])
def test_injected_faults(pack, served, kind):
    url, log = served(fail_rate=1.0, kinds=(kind,), retry_after_s=2)
    resp = httpx.post(f"{url}/chat/completions", json=_body(pack, "query_classifier", "Q"))
    entry = json.loads(log.read_text().splitlines()[-1])
    assert entry["fault"] == kind
    if kind in ("429", "500"):
        assert resp.status_code == int(kind)
        assert (resp.headers.get("retry-after") == "2") == (kind == "429")
        return
    content = resp.json()["choices"][0]["message"]["content"]
    with pytest.raises(json.JSONDecodeError):
        json.loads(content)


def test_timeout_fault_stalls_past_the_client_timeout(pack, served):
    url, _ = served(fail_rate=1.0, kinds=("timeout",), hang_s=2)
    with pytest.raises(httpx.TimeoutException):
        httpx.post(
            f"{url}/chat/completions", json=_body(pack, "query_classifier", "Q"), timeout=0.3
        )


def test_fault_plan_refuses_unknown_kinds():
    with pytest.raises(ValueError, match="unknown fault kind"):
        FaultPlan(kinds=("teapot",))


@pytest.mark.integration
def test_cli_serves_the_reference_teacher(pack, tmp_path):
    if not hasattr(pytest.importorskip("mkd.teachers.reference"), "ReferenceTeacher"):
        pytest.skip("the reference teacher has not landed yet")
    port = free_ports(1)[0]
    log = tmp_path / "log.jsonl"
    mkd = str(Path(sys.executable).parent / "mkd")
    cmd = [mkd, "teacher", "serve", "--backend", "reference"]
    cmd += ["--port", str(port), "--tokenizer", "estimate", "--request-log", str(log)]
    proc = subprocess.Popen(cmd)
    try:
        wait_for_port(port, timeout=60)
        body = _body(pack, "query_classifier", "What was Apple's revenue in FY2023?")
        resp = httpx.post(f"http://127.0.0.1:{port}/v1/chat/completions", json=body, timeout=30)
        assert json.loads(resp.json()["choices"][0]["message"]["content"]) == {"category": "LOOKUP"}
    finally:
        proc.kill()
        proc.wait()
