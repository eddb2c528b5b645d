"""Batched schema-constrained greedy decoding for a transformers causal LM, with jump-forward.

Each answer is a walk of its task's grammar (mkd.decoding.grammar). At every step a sequence:
  - jumps forward over bytes the schema fixes (keys, punctuation): they are queued as text and fed
    with the next forward, so they cost no forward of their own;
  - at an enum, tokenizes every allowed value (with the queued text in front, so tokenization is
    the canonical one) into a token trie and spends one forward per branching node only;
  - otherwise takes the argmax over the tokens the grammar state allows; where the forced text's
    last token could merge with that choice in training, the model may veto it in the same
    forward (`_hold_back_last_token`).
Sequences of one batch share each forward (KV cache, right-aligned chunks, explicit positions);
their common prompt prefix is prefilled once, and finished sequences leave the batch.
When the token budget runs low the shortest valid completion is forced, and every answer is
validated against the task's JSON Schema by the caller's TaskSpec: invalid ones are flagged.
"""

from __future__ import annotations

import inspect
import itertools
import json
import statistics
from dataclasses import dataclass, field, replace
from typing import Any

import torch

from mkd.decoding.grammar import DEAD, Grammar, UnsupportedSchema
from mkd.decoding.tokens import TokenIndex
from mkd.tasks.prompts import shared_prefix_len


@dataclass
class DecodeResult:
    """One answer: its text, parsed value (None when invalid), why invalid, and the cost."""

    text: str
    value: Any = None
    error: str | None = None
    forwards: int = 0
    tokens: int = 0

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class _TrieNode:
    children: dict[int, _TrieNode] = field(default_factory=dict)
    literal: bytes | None = None  # set at a leaf: the bytes this path spells


@dataclass
class _Seq:
    grammar: Grammar
    budget: int
    state: int
    feed: list[int]  # tokens decided but not yet fed to the model
    queued: bytes = b""  # forced bytes, tokenized only when fed (canonical tokenization)
    out: bytearray = field(default_factory=bytearray)
    trie: _TrieNode | None = None
    done: bool = False
    forwards: int = 0
    tokens: int = 0
    span_source: bytes | None = None  # the input as a JSON string body: spans must be in it
    span_tokens: torch.Tensor | None = None  # tokens that may write span text (see _span_ids)
    tail: int | None = None  # the forced run's last token, fed but open to the model's veto
    allowed_at: dict[tuple[int, bytes], torch.Tensor] = field(default_factory=dict)  # memo


class ConstrainedDecoder:
    """Greedy decoding constrained to JSON Schemas; one instance per (model, tokenizer)."""

    def __init__(self, model: Any, tokenizer: Any, jump_forward: bool = True) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.index = TokenIndex(tokenizer)
        self.jump_forward = jump_forward
        self._grammars: dict[str, Grammar] = {}
        self._merges: dict[tuple[int, int, bytes], bool] = {}
        self._span_entries: dict[tuple[int, int], bool] = {}
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        # transformers 5.x renamed past_key_values to cache; older versions know only the former
        params = inspect.signature(model.forward).parameters
        self._cache_kw = "cache" if "cache" in params else "past_key_values"
        # a model that computes chosen logits only (mkd.models.lean_llama) is asked for the
        # tokens the grammar allows: the LM head is a fifth of a decode forward's weights
        self._vocab = getattr(getattr(model, "config", None), "vocab_size", None)
        self._index_logits = "logits_index" in params and self._vocab is not None

    def grammar(self, schema: dict) -> Grammar:
        key = json.dumps(schema, sort_keys=True)
        if key not in self._grammars:
            self._grammars[key] = Grammar(schema)
        return self._grammars[key]

    def decode(
        self,
        prompts: list[list[int]],
        schemas: list[dict],
        max_new_tokens: list[int],
        forward_kwargs: dict[str, Any] | None = None,
        spans: list[str | None] | None = None,
    ) -> list[DecodeResult]:
        """Answer every prompt (token ids) under its schema; texts are NOT yet schema-validated.

        Args:
            prompts: token ids of each conversation (chat template applied).
            schemas: each answer's JSON Schema.
            max_new_tokens: each answer's token budget (the shortest valid ending is forced
                when it runs out).
            forward_kwargs: extra model arguments per forward (PEFT `adapter_names`).
            spans: each answer's source text (the item's input): strings its schema marks
                `x-mkd-span` are then written as spans of it, exactly (None: unconstrained).

        Raises:
            UnsupportedSchema: a schema uses a construct the grammar compiler does not encode.
        """
        seqs = [
            _Seq(g, budget, g.start, list(p))
            for p, g, budget in zip(
                prompts, (self.grammar(s) for s in schemas), max_new_tokens, strict=True
            )
        ]
        for s, source in zip(seqs, spans or [None] * len(seqs), strict=True):
            if source and s.grammar.has_spans:
                s.span_source = json.dumps(source, ensure_ascii=False)[1:-1].encode()
        rows = list(range(len(seqs)))  # the batch's rows: indices of the unfinished sequences
        cache, mask, positions = self._prefill_shared_prefix(seqs, forward_kwargs)
        while True:
            for s in seqs:
                self._advance(s)
            live = [i for i in rows if not seqs[i].done]
            if not live:
                break
            if live != rows:  # finished answers leave the batch: no forwards spent on them
                keep = [rows.index(i) for i in live]
                cache, mask, positions = _select_rows(keep, cache, mask, positions)
                rows = live
            chunks = [self._take_feed(seqs[i]) for i in rows]
            chunks, deferred = _narrow(chunks)
            for j, rest in list(deferred.items()):
                self._hand_back_tail(seqs[rows[j]], rest)  # not fed now: no veto to read
                if not rest:  # fed up to the tail: the model chooses there in this forward
                    del deferred[j]
            extra = _rows_of(forward_kwargs, rows, len(seqs))
            keep = 2 if any(seqs[i].tail is not None for i in rows) else 1
            index = self._logits_needed([seqs[i] for j, i in enumerate(rows) if j not in deferred])
            logits, cache, mask = self._forward(chunks, cache, mask, positions, extra, keep, index)
            for j, i in enumerate(rows):
                s = seqs[i]
                s.forwards += 1
                if j in deferred:  # the rest of a long forced run goes in with the next forward
                    s.feed = deferred[j]
                elif s.tail is not None and self._tail_vetoed(s, logits[j, -2]):
                    mask[j, -1] = 0  # the tail leaves the context; its slot is reused
                    positions[j] -= 1
                    self._choose(s, logits[j, -2])
                else:
                    self._choose(s, logits[j, -1])
        return [self._result(s) for s in seqs]

    def _prefill_shared_prefix(self, seqs: list[_Seq], extra: dict | None) -> tuple:
        """Run the prompts' common prefix once and give every row a copy of its KV cache.

        /v1/analyze sends one query's prompt for each task: they differ only in the task tag at
        the end, so this turns four prefills into one plus four short suffixes. A prefix cache
        hit, not an answer's forward: `forwards` does not count it. Skipped when rows use
        different adapters (the prefix's keys and values depend on the weights).
        """
        n = len(seqs)
        adapters = set((extra or {}).get("adapter_names") or [None])
        feeds = [s.feed for s in seqs]
        shared = feeds[0][: shared_prefix_len(feeds)]
        shared = shared[: min(len(s.feed) for s in seqs) - 1]  # every row keeps a token to feed
        if n < 2 or len(adapters) > 1 or len(shared) < MIN_SHARED_PREFIX:
            return None, None, [0] * n
        one = _rows_of(extra, [0], n)
        unused = {"logits_index": torch.zeros(1, dtype=torch.long)} if self._index_logits else {}
        with torch.inference_mode():  # only the cache is kept: one logit, where that can be asked
            out = self.model(input_ids=torch.tensor([shared]), use_cache=True, logits_to_keep=1,
                             **{self._cache_kw: None}, **unused, **(one or {}))  # fmt: skip
        cache = _cache_of(out)
        cache.batch_repeat_interleave(n)
        for s in seqs:
            s.feed = s.feed[len(shared) :]
        return cache, torch.ones((n, len(shared)), dtype=torch.long), [len(shared)] * n

    # --- one sequence's moves -----------------------------------------------------------------

    def _advance(self, s: _Seq) -> None:
        """Jump over fixed bytes and single-path trie nodes until a real choice (or the end)."""
        while not s.done:
            if s.trie is not None:
                if len(s.trie.children) != 1:
                    return
                tok, s.trie = next(iter(s.trie.children.items()))
                s.feed.append(tok)
                s.tokens += 1
                self._finish_literal(s)
                continue
            if s.grammar.finished(s.state):
                s.done = True
                return
            if self._over_budget(s):
                self._force_completion(s)
                return
            if not self.jump_forward:
                return
            literals = s.grammar.enum_literals(s.state)
            if literals is not None and _prefix_free(literals):
                s.trie = self._enum_trie(s, literals)
                s.queued = b""
                self._finish_literal(s)
                continue
            forced = s.grammar.forced(s.state)
            if not forced:
                self._hold_back_last_token(s)
                return
            s.queued += forced
            s.out += forced
            s.state = s.grammar.walk(s.state, forced)

    def _hold_back_last_token(self, s: _Seq) -> None:
        """Leave the forced text's last token to the model, at a free choice.

        Forced bytes are tokenized on their own, but in training they merged with what
        follows: `"currency":null` is `":` + `null`, `"currency":"INR"` is `":"` + `IN`. Fed
        `":`, the model has only ever seen `null` come next, so every currency came out null.
        So the model gets a say on the last token: it is fed with the run, and the same
        forward's logits one position earlier (before it) are the model's own choice there,
        under the grammar mask; where that choice is another token (`":"` instead of `":`),
        the tail is taken back and the choice written instead (`_tail_vetoed`). The answer is
        what handing the token back before the forward gives, without a forward of its own
        wherever the model agrees with the forced text's tokenization.
        """
        if not s.queued or s.trie is not None:
            return
        tail = self.index.bytes[self.index.encode(s.queued)[-1]] or b""  # encode: exact bytes
        before = s.grammar.walk(s.grammar.start, bytes(s.out[: len(s.out) - len(tail)]))
        if not self._may_merge(s.grammar, before, tail):
            return  # no token can span the end of the forced text: training split there too
        s.tail = self.index.encode(s.queued)[-1]

    def _hand_back_tail(self, s: _Seq, ids: list[int]) -> None:
        """Take an open tail out of `ids` (the tokens to feed) and out of the answer: the
        model then chooses at that point in a later forward, as before the tail existed."""
        if s.tail is None:
            return
        ids.pop()
        s.tokens -= 1
        _unwrite(s, len(self.index.bytes[s.tail] or b""))
        s.tail = None

    def _tail_vetoed(self, s: _Seq, before: torch.Tensor) -> bool:
        """Whether the model, given the logits before the tail, writes something else there;
        then the answer is left as it was before the tail (the caller chooses with `before`)."""
        tail, s.tail = s.tail, None
        data = self.index.bytes[tail] or b""
        _unwrite(s, len(data))
        allowed = self._allowed_now(s, before.shape[-1])
        if allowed.numel() and int(allowed[int(torch.argmax(before[allowed]))]) == tail:
            s.out += data
            s.state = s.grammar.walk(s.state, data)
            return False
        s.tokens -= 1
        return True

    def _may_merge(self, grammar: Grammar, state: int, tail: bytes) -> bool:
        """True when some token the grammar allows could start inside `tail` (walked from
        `state`) and run past its end: only then can the trained tokenization differ from
        feeding `tail` as it is, and a hand-back is worth its forward (`-` before a date's
        month digits, for one, never merges in a vocabulary of single-digit tokens)."""
        key = (id(grammar), state, tail)
        hit = self._merges.get(key)
        if hit is None:
            hit = False
            for k in range(len(tail)):
                allowed = self.index.allowed(grammar, state)
                if allowed.numel() and int(self.index.lengths[allowed].max()) > len(tail) - k:
                    hit = True
                    break
                state = grammar.row(state)[tail[k]]
            self._merges[key] = hit
        return hit

    def _over_budget(self, s: _Seq) -> bool:
        """Time to close the answer: ~4 bytes a token, structure included, or too many tokens."""
        tail = s.grammar.shortest_completion(s.state) or b""
        return len(s.out) + len(tail) >= 4 * s.budget or s.tokens >= 2 * s.budget

    def _force_completion(self, s: _Seq) -> None:
        g = s.grammar
        while True:
            tail = g.shortest_completion(s.state) or b""
            cut = _first_span_byte(g, s.state, tail) if s.span_source else None
            if cut is None:
                break
            # a span cannot stay empty (minLength): its first character comes from the source
            head = tail[:cut] + s.span_source.decode("utf-8")[0].encode()
            s.out += head
            s.state = g.walk(s.state, head)
        s.out += tail
        s.state = g.walk(s.state, tail)
        s.done = True

    def _enum_trie(self, s: _Seq, literals: list[bytes]) -> _TrieNode:
        """Token trie of queued text + each value + the bytes fixed after it."""
        root = _TrieNode()
        for lit in literals:
            after = s.grammar.walk(s.state, lit)
            full = lit + s.grammar.forced(after)
            node = root
            for tok in self.index.encode(s.queued + full):
                node = node.children.setdefault(tok, _TrieNode())
            node.literal = full
        return root

    def _finish_literal(self, s: _Seq) -> None:
        if s.trie is not None and not s.trie.children:
            lit = s.trie.literal or b""
            s.out += lit
            s.state = s.grammar.walk(s.state, lit)
            s.trie = None
            if not s.grammar.finished(s.state) and s.feed:
                # the value's last token also spells the fixed bytes after it (`"}` of
                # `"METRIC"}`); in training they merged with the next choice (`"},` when the
                # list goes on), so the model writes that token itself
                s.tokens -= 1
                _unwrite(s, len(self.index.bytes[s.feed.pop()] or b""))

    def _take_feed(self, s: _Seq) -> list[int]:
        if s.done:
            return []
        queued = self.index.encode(s.queued)
        s.tokens += len(queued)  # decided tokens were counted when chosen; the prompt never is
        ids = s.feed + queued
        s.feed, s.queued = [], b""
        if len(ids) < 2:  # no position before the tail in this forward to read the model's pick
            self._hand_back_tail(s, ids)
        return ids

    def _choose(self, s: _Seq, logits: torch.Tensor) -> None:
        if s.trie is not None:
            options = torch.tensor(list(s.trie.children), dtype=torch.long)
            tok = int(options[int(torch.argmax(logits[options]))])
            s.trie = s.trie.children[tok]
            s.feed.append(tok)
            s.tokens += 1
            self._finish_literal(s)
            return
        allowed = self._allowed_now(s, logits.shape[-1])
        if allowed.numel() == 0:
            self._force_completion(s)
            return
        tok = int(allowed[int(torch.argmax(logits[allowed]))])
        s.tokens += 1
        if tok == self.index.eos_id:
            s.done = True
            return
        data = self.index.bytes[tok] or b""
        s.out += data
        s.state = s.grammar.walk(s.state, data)
        s.feed.append(tok)

    def _allowed_now(self, s: _Seq, vocab: int) -> torch.Tensor:
        """The tokens the grammar (and a copied span) allow next, within the model's vocab."""
        key = (s.state, bytes(s.out))  # a span's allowed tokens depend on what it holds
        hit = s.allowed_at.get(key)
        if hit is None:
            allowed = self.index.allowed(s.grammar, s.state)
            if s.span_source is not None:
                allowed = self._span_allowed(s, allowed)
            hit = s.allowed_at[key] = allowed[allowed < vocab]
        return hit

    def _logits_needed(self, seqs: list[_Seq]) -> torch.Tensor | None:
        """The token ids whose logits the next forward must give for `seqs` to choose: at an
        enum, its trie's branches; elsewhere the allowed tokens, and where a forced run's tail
        awaits the model's veto, also those allowed before it. None: every logit (a model
        without `logits_index`, or a set so large that selecting head rows costs more)."""
        if not self._index_logits:
            return None
        vocab, parts = self._vocab, []
        for s in seqs:
            if s.trie is not None:
                parts.append(torch.tensor(list(s.trie.children), dtype=torch.long))
                continue
            parts.append(self._allowed_now(s, vocab))
            if s.tail is not None:
                before = replace(s, out=bytearray(s.out))  # shares the memo
                _unwrite(before, len(self.index.bytes[s.tail] or b""))
                parts += [self._allowed_now(before, vocab), torch.tensor([s.tail])]
        index = torch.unique(torch.cat(parts)) if parts else None
        return index if index is not None and 0 < len(index) <= vocab // MAX_INDEXED_SHARE else None

    # --- spans: strings copied from the input --------------------------------------------------

    def _span_allowed(self, s: _Seq, allowed: torch.Tensor) -> torch.Tensor:
        """The allowed tokens that keep every span they write a substring of the source.

        Inside a span, candidates come from the source's own substrings (a few hundred tokens,
        not the whole vocabulary); elsewhere only states from which a token can enter a span
        are filtered (after `"name":`, say). Falls back to the grammar's set when nothing fits,
        so a span the source cannot spell still ends in a valid answer."""
        g = s.grammar
        if g.in_span(s.state):
            start = bytes(s.out).rfind(b'"') + 1
            content = bytes(s.out[start:])
            pool = self._span_ids(s)
        elif self._enters_span(g, s.state, allowed):
            content, pool = b"", allowed
        else:
            return allowed
        keep = [t for t in pool.tolist() if _span_ok(g, s.state, self.index.bytes[t] or b"",
                                                      content, s.span_source)]  # fmt: skip
        return torch.tensor(keep, dtype=torch.long) if keep else allowed

    def _span_ids(self, s: _Seq) -> torch.Tensor:
        """Tokens whose text up to its first quote is a substring of the source (or empty)."""
        if s.span_tokens is None:
            s.span_tokens = self.index.substring_tokens(s.span_source or b"")
        return s.span_tokens

    def _enters_span(self, g: Grammar, state: int, allowed: torch.Tensor) -> bool:
        key = (id(g), state)
        hit = self._span_entries.get(key)
        if hit is None:
            hit = self._span_entries[key] = any(
                _touches_span(g, state, self.index.bytes[t] or b"") for t in allowed.tolist()
            )
        return hit

    # --- the batched forward ------------------------------------------------------------------

    def _forward(self, chunks, cache, mask, positions, extra=None, keep=1, index=None):
        """Feed each row's new tokens (right-aligned, padding masked); return the logits of
        the last `keep` positions [rows, keep, vocab] (with `index`, only those token ids'
        are computed and every other logit is -inf)."""
        width = max(len(c) for c in chunks) or 1
        ids = torch.full((len(chunks), width), self.pad_id, dtype=torch.long)
        new_mask = torch.zeros((len(chunks), width), dtype=torch.long)
        pos = torch.zeros((len(chunks), width), dtype=torch.long)
        for i, chunk in enumerate(chunks):
            n = len(chunk)
            if n:
                ids[i, width - n :] = torch.tensor(chunk)
                new_mask[i, width - n :] = 1
                pos[i, width - n :] = torch.arange(positions[i], positions[i] + n)
                pos[i, : width - n] = positions[i]
                positions[i] += n
            else:
                pos[i, :] = max(positions[i] - 1, 0)
        mask = new_mask if mask is None else torch.cat([mask, new_mask], dim=1)
        with torch.inference_mode():
            out = self.model(
                input_ids=ids,
                attention_mask=mask,
                position_ids=pos,
                use_cache=True,
                logits_to_keep=keep,
                **{self._cache_kw: cache},
                **({"logits_index": index} if index is not None else {}),
                **(extra or {}),
            )
        logits = out.logits[:, -keep:, :].float()
        if index is not None:
            full = torch.full((*logits.shape[:2], self._vocab), float("-inf"))
            full[:, :, index] = logits
            logits = full
        return logits, _cache_of(out), mask

    def _result(self, s: _Seq) -> DecodeResult:
        try:
            text = bytes(s.out).decode("utf-8")
        except UnicodeDecodeError:
            return DecodeResult(repr(bytes(s.out)), None, "invalid UTF-8", s.forwards, s.tokens)
        if s.state == DEAD or not s.grammar.accepting(s.state):
            return DecodeResult(text, None, "incomplete answer", s.forwards, s.tokens)
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            return DecodeResult(text, None, f"unparseable JSON: {exc}", s.forwards, s.tokens)
        return DecodeResult(text, value, None, s.forwards, s.tokens)


def _narrow(chunks: list[list[int]]) -> tuple[list[list[int]], dict[int, list[int]]]:
    """Cap a batch forward's width at the median row's chunk: the widest chunk sets the width
    of every row (right-aligned padding) and of the cache, so one row's long forced run would
    multiply the whole batch's compute. Longer chunks keep their tail for the next forward.
    Returns (chunks to feed now, row -> tokens deferred)."""
    if len(chunks) < 2:
        return chunks, {}
    width = max(1, statistics.median_high(len(c) for c in chunks))
    deferred = {j: c[width:] for j, c in enumerate(chunks) if len(c) > width}
    return [c[:width] for c in chunks], deferred


def _unwrite(s: _Seq, n: int) -> None:
    """Take the answer's last `n` bytes back; the grammar state is the one before them."""
    del s.out[len(s.out) - n :]
    s.state = s.grammar.walk(s.grammar.start, bytes(s.out))


def _cache_of(out: Any) -> Any:
    """The KV cache of a forward's output (transformers 5.x: `cache`; before: past_key_values)."""
    cache = out.get("cache")
    return out.get("past_key_values") if cache is None else cache


MIN_SHARED_PREFIX = 8  # tokens; below this a separate prefill costs more than it saves
# Logits of chosen tokens only while they are at most this share of the vocabulary (1/n):
# selecting more head rows than that copies more than the skipped matmul saves.
MAX_INDEXED_SHARE = 8


def _select_rows(keep: list[int], cache: Any, mask: Any, positions: list[int]) -> tuple:
    """Keep only batch rows `keep` of the KV cache, the attention mask and the positions."""
    if cache is not None:
        cache.batch_select_indices(torch.tensor(keep, dtype=torch.long))
    if mask is not None:
        mask = mask[keep]
    return cache, mask, [positions[k] for k in keep]


def _rows_of(extra: dict | None, rows: list[int], n: int) -> dict | None:
    """Per-row forward arguments (PEFT `adapter_names`) for the rows still in the batch."""
    if not extra:
        return extra
    return {k: [v[i] for i in rows] if isinstance(v, list) and len(v) == n else v
            for k, v in extra.items()}  # fmt: skip


def _span_ok(g: Grammar, state: int, data: bytes, content: bytes, source: bytes) -> bool:
    """Walking `data` from `state`, every span's text (`content` already written) stays a
    substring of `source`."""
    for b in data:
        nxt = g.row(state)[b]
        if nxt == DEAD:
            return False
        if g.in_span(nxt):
            content = content + bytes((b,)) if g.in_span(state) else b""
            if content and content not in source:
                return False
        state = nxt
    return True


def _first_span_byte(g: Grammar, state: int, data: bytes) -> int | None:
    """Index of the first byte of `data` written inside a span (from `state`), else None."""
    for i, b in enumerate(data):
        nxt = g.row(state)[b]
        if g.in_span(state) and g.in_span(nxt):
            return i
        state = nxt
    return None


def _touches_span(g: Grammar, state: int, data: bytes) -> bool:
    for b in data:
        state = g.row(state)[b]
        if state == DEAD:
            return False
        if g.in_span(state):
            return True
    return False


def _prefix_free(literals: list[bytes]) -> bool:
    """A trie of values needs no value to be a prefix of another (1 and 10 would be)."""
    ordered = sorted(literals)
    return not any(b.startswith(a) for a, b in itertools.pairwise(ordered))


__all__ = ["ConstrainedDecoder", "DecodeResult", "UnsupportedSchema"]
