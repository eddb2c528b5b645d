"""LLM paraphrases through an OpenAI-compatible endpoint.

No model here can paraphrase usefully (SmolLM2-135M cannot, and no hosted LLM is reachable), so
the endpoint is a small real HTTP server answering like an LLM would; the client, its
concurrency and its failure handling are the production code.
"""

from __future__ import annotations

import json

import pytest
from mkd.config import parse_config
from mkd.config.teacher import TeacherConfig
from mkd.data.paraphrase import TeacherParaphraser, paraphraser_for, parse_paraphrases
from mkd.services.ports import free_ports
from mkd.teachers.server import BackgroundServer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def _chat(request: Request) -> JSONResponse:
    body = await request.json()
    query = body["messages"][-1]["content"]
    if "broken" in query:
        return JSONResponse({"error": {"message": "boom"}}, status_code=500)
    answer = json.dumps([f"pls {query}", f"{query} - need it today", query])
    return JSONResponse({"choices": [{"message": {"role": "assistant", "content": answer}}]})


@pytest.fixture
def endpoint():
    with BackgroundServer(Starlette(routes=[Route("/v1/chat/completions", _chat, methods=["POST"])]), free_ports(1)[0]) as bg:  # fmt: skip
        yield bg.url  # BackgroundServer.url already ends in /v1


def test_answers_become_distinct_paraphrases_without_the_original():
    text = (
        '```json\n["Apple revenue FY23", "apple revenue fy23", "What was Apple\'s revenue?", ""]```'
    )
    assert parse_paraphrases(text, "What was Apple's revenue?", 5) == ["Apple revenue FY23"]
    with pytest.raises(ValueError):
        parse_paraphrases('{"a": 1}', "x", 2)


def test_prefetch_asks_once_per_prompt_and_counts_failures(endpoint):
    para = TeacherParaphraser(TeacherConfig(base_url=endpoint, concurrency=4))
    para.prefetch(["Apple revenue in FY2023", "broken query", "Tesla margins 2023"], 2)
    assert para("Apple revenue in FY2023", 2) == [
        "pls Apple revenue in FY2023",
        "Apple revenue in FY2023 - need it today",
    ]
    assert para("broken query", 2) == []
    assert para.failures == 1


def test_a_labeler_backend_cannot_paraphrase_and_the_error_names_the_field():
    cfg = parse_config(
        {"teacher": {"backend": "reference"}, "data": {"augment": {"paraphrases_per_prompt": 2}}}
    )
    with pytest.raises(ValueError, match=r"data\.augment\.paraphrases_per_prompt"):
        paraphraser_for(cfg)
    assert paraphraser_for(parse_config({})) is None
