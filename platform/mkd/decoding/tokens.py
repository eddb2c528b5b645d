"""The tokenizer's vocabulary as bytes, and the tokens a grammar state allows (cached per state).

Tokens are sorted by their bytes so that one pass over the sorted list is a walk of the
vocabulary trie: a token re-uses the DFA states of the prefix it shares with the previous one,
and every token under a dead prefix is skipped without being walked.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import torch

from mkd.decoding.grammar import DEAD, Grammar


@lru_cache(maxsize=1)
def _byte_decoder() -> dict[str, int]:
    """GPT-2's byte-level alphabet, reversed (printable stand-ins back to raw bytes)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs, strict=True)}


def token_bytes(tokenizer: Any) -> list[bytes | None]:
    """Raw bytes of every token id (None for special/added tokens the grammar never allows)."""
    vocab = tokenizer.get_vocab()
    special = set(tokenizer.all_special_ids) | {
        i for t, i in vocab.items() if t in getattr(tokenizer, "added_tokens_encoder", {})
    }
    size = max(vocab.values()) + 1
    table: list[bytes | None] = [None] * size
    decoder = _byte_decoder()
    byte_level = sum("Ġ" in t for t in list(vocab)[:5000]) > 10
    for text, idx in vocab.items():
        if idx in special:
            continue
        if byte_level:
            try:
                table[idx] = bytes(decoder[c] for c in text)
            except KeyError:
                table[idx] = text.encode()
        elif len(text) == 6 and text.startswith("<0x") and text.endswith(">"):
            table[idx] = bytes((int(text[3:5], 16),))
        else:
            table[idx] = text.replace("\u2581", " ").encode()
    return table


class TokenIndex:
    """Per tokenizer: token bytes, the sorted walk order, and allowed-token sets per grammar state."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self.bytes = token_bytes(tokenizer)
        self.eos_id = tokenizer.eos_token_id
        pairs = sorted((b, i) for i, b in enumerate(self.bytes) if b)
        self._order = [i for _, i in pairs]
        self._sorted = [b for b, _ in pairs]
        self._lcp = [0] + [
            _common_prefix(a, b) for a, b in zip(self._sorted, self._sorted[1:], strict=False)
        ]
        self._allowed: dict[tuple[int, int], torch.Tensor] = {}
        self._by_head: dict[bytes, list[int]] | None = None
        self.lengths = torch.tensor([len(b or b"") for b in self.bytes], dtype=torch.long)

    def allowed(self, grammar: Grammar, state: int) -> torch.Tensor:
        """Token ids (LongTensor) whose bytes keep `state` alive, plus EOS where it may end."""
        key = (id(grammar), state)
        hit = self._allowed.get(key)
        if hit is None:
            ids = self._walk(grammar, state)
            if grammar.accepting(state) and self.eos_id is not None:
                ids.append(self.eos_id)
            hit = self._allowed[key] = torch.tensor(ids, dtype=torch.long)
        return hit

    def _walk(self, grammar: Grammar, start: int) -> list[int]:
        allowed: list[int] = []
        states = [start]  # states[d]: the DFA state after d bytes of the current token
        dead_len = 1 << 30  # a prefix of this length is dead: skip tokens that share it
        for tok, data, lcp in zip(self._order, self._sorted, self._lcp, strict=True):
            if lcp >= dead_len:
                continue
            dead_len = 1 << 30
            del states[lcp + 1 :]
            s = states[lcp]
            for d in range(lcp, len(data)):
                s = grammar.row(s)[data[d]]
                if s == DEAD:
                    dead_len = d + 1
                    break
                states.append(s)
            else:
                allowed.append(tok)
        return allowed

    def substring_tokens(self, source: bytes) -> torch.Tensor:
        """Token ids whose bytes before their first `"` (all of them when there is none) are a
        substring of `source`: what may be written inside a span copied from it."""
        if self._by_head is None:
            heads: dict[bytes, list[int]] = {}
            for i, data in enumerate(self.bytes):
                if data:
                    heads.setdefault(data.split(b'"', 1)[0], []).append(i)
            self._by_head = heads
        longest = min(max((len(h) for h in self._by_head), default=0), 64)
        found = set(self._by_head.get(b"", []))
        for i in range(len(source)):
            for j in range(i + 1, min(len(source), i + longest) + 1):
                found.update(self._by_head.get(source[i:j], ()))
        return torch.tensor(sorted(found), dtype=torch.long)

    def encode(self, data: bytes) -> list[int]:
        """Tokens for forced bytes; their bytes must add up exactly (checked)."""
        if not data:
            return []
        ids = self.tokenizer.encode(data.decode("utf-8"), add_special_tokens=False)
        if b"".join(self.bytes[i] or b"" for i in ids) != data:
            raise ValueError(f"tokenizer does not round-trip forced text {data!r}")
        return ids


def _common_prefix(a: bytes, b: bytes) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i
