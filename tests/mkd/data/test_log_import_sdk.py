"""Issue 21: a log an application writes with the official OpenAI SDK against `mkd teacher serve`
(the real command, a subprocess on 127.0.0.1) goes through `mkd data import-logs`: every good call
becomes a labeled record with the teacher's answer, every bad line is quarantined and counted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest
from mkd.cli.main import app
from mkd.services.ports import free_ports
from mkd.storage import open_store
from mkd.store_layout import imports_prefix
from mkd.tasks import load_pack, teacher_messages
from typer.testing import CliRunner

pytestmark = pytest.mark.integration

QUERIES = [
    ("query_classifier", "Top 5 Indian banks by total deposits"),
    ("currency_identifier", "Infosys revenue in FY2024"),
    ("entity_extractor", "Compare Amazon and Walmart net sales in India"),
    ("date_interpretation", "Tesla deliveries last quarter"),
    ("currency_identifier", "Startups in Bengaluru above ₹500 crore ARR"),
]
CONTEXT = {"as_of": "2026-01-15"}


@pytest.fixture
def teacher_url() -> Iterator[str]:
    """`mkd teacher serve --backend reference` as a user starts it."""
    port = free_ports(1)[0]
    cmd = [sys.executable, "-c", "from mkd.cli.main import app; app()", "teacher", "serve",
           "--backend", "reference",
           "--port", str(port), "--tokenizer", "estimate"]  # fmt: skip
    proc = subprocess.Popen(cmd, env=os.environ.copy(), stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "teacher did not start"
            time.sleep(0.2)
        yield url + "/v1"
    finally:
        proc.kill()
        proc.wait()


def sdk_log(base_url: str) -> list[dict]:
    """What an application records per call: the request it sent, the SDK's response, its task."""
    from openai import OpenAI

    pack = load_pack("finance")
    client = OpenAI(base_url=base_url, api_key="unused", max_retries=0)
    lines = []
    for task, query in QUERIES:
        request = {"model": "mkd-teacher",
                   "messages": teacher_messages(pack, pack.task(task), query, CONTEXT)}  # fmt: skip
        completion = client.chat.completions.create(**request)
        lines.append(
            {"request": request, "response": completion.model_dump(), "metadata": {"task": task}}
        )
    return lines


def test_an_sdk_log_round_trips_with_bad_lines_quarantined(teacher_url, tmp_path) -> None:
    lines = sdk_log(teacher_url)
    answers = {q: json.loads(x["response"]["choices"][0]["message"]["content"])
               for (_, q), x in zip(QUERIES, lines, strict=True)}  # fmt: skip
    unknown_task = {**lines[0], "metadata": {"task": "stock_picker"}}
    text = "\n".join(json.dumps(x, ensure_ascii=False) for x in lines)
    text += '\n{"request": {"model": "mkd-teacher"\n' + json.dumps(unknown_task) + "\n"
    log = tmp_path / "app-calls.jsonl"
    log.write_text(text, encoding="utf-8")
    config = tmp_path / "pipeline.yaml"
    config.write_text(f"store: {{uri: 'file://{tmp_path / 'store'}'}}\n")

    result = CliRunner().invoke(app, ["data", "import-logs", str(log), "-c", str(config)])
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert f"imported {len(QUERIES)} record(s)" in said and "2 quarantined" in said, said

    store = open_store(f"file://{tmp_path / 'store'}")
    (records_key,) = [k for k in store.list(imports_prefix("finance", "v1"))
                      if k.endswith("records.jsonl")]  # fmt: skip
    records = [json.loads(x) for x in store.get_bytes(records_key).splitlines()]
    assert {(r["task"], r["input"]) for r in records} == set(QUERIES)
    assert all(json.loads(r["output"]) == answers[r["input"]] for r in records)
    assert all(r["context"].get("as_of") == CONTEXT["as_of"] for r in records)
    quarantine = store.get_bytes(records_key.replace("records.jsonl", "quarantine.jsonl"))
    reasons = [json.loads(x)["reason"] for x in quarantine.splitlines()]
    assert len(reasons) == 2 and any("stock_picker" in r for r in reasons), reasons
