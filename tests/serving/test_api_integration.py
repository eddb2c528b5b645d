"""What API clients expect, against the app on the session's loopback Ray cluster (the tiny
random student of conftest.py): the official OpenAI SDK's streaming call, `usage` counted by the
student's tokenizer, and the typed client (mkd.serve.client) round-tripping every task."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from mkd.models.loading import chat_prompt_ids
from mkd.serve.client import AsyncMKDClient, MKDAPIError, MKDClient
from mkd.tasks import load_pack, student_messages

from tests.serving.conftest import TOKEN

pytestmark = pytest.mark.integration
TASKS = ["query_classifier", "entity_extractor", "currency_identifier", "date_interpretation"]
QUERY = "Compare Amazon and Walmart net sales in India since 2023"
CONTEXT = {"as_of": "2026-01-15"}


def as_written(value, schema: dict):
    """`value` with each object's keys in the schema's `properties` order: the compact form the
    constrained decoder writes (clients get canonical JSON, keys sorted)."""
    if isinstance(value, dict):
        props = schema.get("properties", {})
        keys = [k for k in props if k in value] + [k for k in value if k not in props]
        return {k: as_written(value[k], props.get(k, {})) for k in keys}
    if isinstance(value, list):
        return [as_written(v, schema.get("items", {})) for v in value]
    return value


@pytest.fixture(scope="module")
def sdk(served_app):
    from openai import OpenAI

    return OpenAI(base_url=served_app.base_url + "/v1", api_key=TOKEN, max_retries=0)


def test_the_openai_sdks_streaming_call_gets_a_schema_valid_answer(served_app, sdk):
    pack = load_pack("finance")
    for task in TASKS:
        stream = sdk.chat.completions.create(
            model=f"mkd-{task}:student",
            messages=[{"role": "user", "content": QUERY}],
            stream=True,
            stream_options={"include_usage": True},
            extra_body={"context": CONTEXT},
        )
        chunks = list(stream)
        content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert pack.task(task).schema_errors(json.loads(content)) == [], (task, content)
        finish = [c.choices[0].finish_reason for c in chunks if c.choices]
        assert finish[-1] == "stop" and set(finish[:-1]) == {None}
        assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0


def test_an_error_before_the_stream_is_a_plain_http_error(served_app):
    r = httpx.post(
        served_app.base_url + "/v1/chat/completions",
        json={"model": "mkd-nope", "messages": [{"role": "user", "content": "hi"}], "stream": True},
        headers=served_app.headers,
        timeout=60,
    )
    assert r.status_code == 404 and r.headers["content-type"] == "application/json"
    assert "unknown model" in r.json()["error"]["message"]


def test_usage_counts_match_the_students_tokenizer(served_app, sdk, tiny_student):
    from transformers import AutoTokenizer

    pack, tokenizer = load_pack("finance"), AutoTokenizer.from_pretrained(tiny_student)
    for task in TASKS:
        spec = pack.task(task)
        reply = sdk.chat.completions.create(
            model=f"mkd-{task}:student",
            messages=[{"role": "user", "content": QUERY}],
            extra_body={"context": CONTEXT},
        )
        assert reply.model_extra["mkd"]["route"] == "student", task
        value = json.loads(reply.choices[0].message.content)
        written = json.dumps(as_written(value, spec.output_schema), separators=(",", ":"), ensure_ascii=False)  # fmt: skip
        prompt = chat_prompt_ids(tokenizer, student_messages(pack, spec, QUERY, CONTEXT))
        answer = tokenizer(written, add_special_tokens=False)["input_ids"]
        usage = reply.usage
        assert (usage.prompt_tokens, usage.completion_tokens) == (len(prompt), len(answer)), task
        assert usage.total_tokens == len(prompt) + len(answer)


def test_a_teacher_answer_reports_the_teachers_usage(served_app, sdk):
    reply = sdk.chat.completions.create(
        model="mkd-query_classifier:teacher", messages=[{"role": "user", "content": QUERY}]
    )
    assert reply.model_extra["mkd"]["route"] == "teacher"
    usage = reply.usage
    assert usage.prompt_tokens > 0 and usage.completion_tokens > 0  # the reference's estimate
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


def test_the_client_round_trips_all_four_tasks_and_analyze(served_app):
    pack = load_pack("finance")
    with MKDClient(served_app.base_url, token=TOKEN, timeout=60) as mkd:
        infos = mkd.tasks()
        assert [t.name for t in infos] == TASKS
        for task in TASKS:
            result = mkd.task(task, QUERY, CONTEXT)
            assert result.task == task and result.route in ("student", "teacher", "fallback")
            assert pack.task(task).schema_errors(result.output) == []
        analyzed = mkd.analyze(QUERY, CONTEXT)
        assert sorted(analyzed.results) == sorted(TASKS) and analyzed.input == QUERY
        with pytest.raises(MKDAPIError) as caught:
            mkd.task("stock_picker", QUERY)
        assert caught.value.status == 404 and caught.value.code == "unknown_task"

    async def go():
        async with AsyncMKDClient(served_app.base_url, token=TOKEN, timeout=60) as mkd:
            return await asyncio.gather(
                *(mkd.task(t, QUERY, CONTEXT) for t in TASKS), mkd.analyze(QUERY)
            )

    *results, analyzed = asyncio.run(go())
    assert [r.task for r in results] == TASKS
    assert all(pack.task(r.task).schema_errors(r.output) == [] for r in results)
    assert sorted(analyzed.results) == sorted(TASKS)


def test_a_wrong_token_is_a_401_the_client_reports_with_its_message(served_app):
    with (
        MKDClient(served_app.base_url, token="nope", timeout=60) as mkd,
        pytest.raises(MKDAPIError) as caught,
    ):
        mkd.analyze(QUERY)
    assert caught.value.status == 401 and "bearer token" in caught.value.message
