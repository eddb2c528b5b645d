"""Token counts for the teacher server's `usage` field: a real tokenizer, or a documented estimate.

A GGUF model's tokenizer comes from its converted copy (mkd.models.converted): rebuilding it
from GGUF metadata on every start would be slow.
"""

from __future__ import annotations

import math

from mkd.models.stored import load_tokenizer

ESTIMATE = "estimate"
_BYTES_PER_TOKEN = 4  # English BPE vocabularies average ~4 bytes of UTF-8 per token
_PER_MESSAGE = 4  # role markers and separators a chat template adds around each message


class TokenCounter:
    """Counts prompt and completion tokens.

    Args:
        spec: "estimate" (UTF-8 bytes / 4, plus 4 per chat message: the documented estimate) or
            a model URI whose tokenizer and chat template give the real counts.
    """

    def __init__(self, spec: str = ESTIMATE) -> None:
        self.spec = spec
        self.tokenizer = None if spec == ESTIMATE else load_tokenizer(spec)

    def prompt_tokens(self, messages: list[dict[str, str]]) -> int:
        if self.tokenizer is None:
            return sum(self._estimate(m.get("content") or "") + _PER_MESSAGE for m in messages)
        ids = self.tokenizer.apply_chat_template(
            messages, tokenize=True, add_generation_prompt=True, return_dict=True
        )["input_ids"]
        return len(ids)

    def completion_tokens(self, text: str) -> int:
        if self.tokenizer is None:
            return self._estimate(text) + 1  # + the end-of-turn token
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"]) + 1

    @staticmethod
    def _estimate(text: str) -> int:
        return math.ceil(len(text.encode("utf-8", errors="replace")) / _BYTES_PER_TOKEN)
