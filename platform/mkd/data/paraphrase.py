"""LLM paraphrases of curated prompts through the teacher's OpenAI-compatible endpoint.

`data.augment.paraphrases_per_prompt: N` asks the teacher model for N rewrites of every curated
prompt that keep its entities, numbers and time phrases. All prompts are requested up front,
concurrently (the teacher's `concurrency`), so the augmenter's per-prompt calls are lookups.
A failed or unparsable answer costs that prompt its paraphrases, never the build: the rule-based
variations remain, and the failures are counted in the augment report.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from mkd.config.pipeline import PipelineConfig
from mkd.config.teacher import TeacherConfig
from mkd.teachers.openai_backend import bearer_headers, strip_fences

INSTRUCTION = (
    "Rewrite the user's finance query in {n} different ways, as other users would type it. "
    "Keep every company, metric, number, currency and time phrase exactly as written; change "
    "only the wording around them. Answer with a JSON array of {n} strings and nothing else."
)


class TeacherParaphraser:
    """(text, n) -> up to n paraphrases, from answers fetched by `prefetch`."""

    def __init__(self, cfg: TeacherConfig) -> None:
        if cfg.backend != "openai":
            raise ValueError(
                "data.augment.paraphrases_per_prompt: LLM paraphrases need an LLM endpoint "
                f"(teacher.backend: openai), not teacher.backend: {cfg.backend}"
            )
        self.cfg = cfg
        self._url = cfg.base_url.rstrip("/") + "/chat/completions"
        self._answers: dict[tuple[str, int], list[str]] = {}
        self.failures = 0

    def prefetch(self, texts: list[str], n: int) -> None:
        """Ask for the paraphrases of every text at once (bounded by teacher.concurrency)."""
        missing = sorted({t for t in texts if (t, n) not in self._answers})
        if missing:
            asyncio.run(self._fetch_all(missing, n))

    def __call__(self, text: str, n: int) -> list[str]:
        if (text, n) not in self._answers:
            self.prefetch([text], n)
        return self._answers[(text, n)]

    async def _fetch_all(self, texts: list[str], n: int) -> None:
        gate = asyncio.Semaphore(self.cfg.concurrency)
        headers = bearer_headers(self.cfg)
        async with httpx.AsyncClient(headers=headers, timeout=self.cfg.timeout_s) as client:

            async def one(text: str) -> None:
                async with gate:
                    self._answers[(text, n)] = await self._fetch(client, text, n)

            await asyncio.gather(*(one(t) for t in texts))

    async def _fetch(self, client: httpx.AsyncClient, text: str, n: int) -> list[str]:
        body = {
            "model": self.cfg.model,
            "messages": [
                {"role": "system", "content": INSTRUCTION.format(n=n)},
                {"role": "user", "content": text},
            ],
            "temperature": 0.7,
        }
        try:
            resp = await client.post(self._url, json=body)
            resp.raise_for_status()
            content = resp.json()["choices"][0]["message"]["content"]
            return parse_paraphrases(content, text, n)
        except (httpx.HTTPError, KeyError, IndexError, TypeError, ValueError):
            self.failures += 1
            return []


def parse_paraphrases(content: Any, original: str, n: int) -> list[str]:
    """The first n distinct non-empty strings of a JSON array answer (code fences allowed),
    without the original; ValueError when the answer is not such an array."""
    items = json.loads(strip_fences(str(content)))
    if not isinstance(items, list):
        raise ValueError("paraphrase answer is not a JSON array")
    seen = {original.strip().casefold()}
    out = []
    for item in items:
        if isinstance(item, str) and item.strip() and item.strip().casefold() not in seen:
            seen.add(item.strip().casefold())
            out.append(item.strip())
    return out[:n]


def paraphraser_for(cfg: PipelineConfig) -> TeacherParaphraser | None:
    """The pipeline's paraphraser, or None when data.augment asks for no paraphrases."""
    if not cfg.data.augment.paraphrases_per_prompt:
        return None
    return TeacherParaphraser(cfg.teacher)
