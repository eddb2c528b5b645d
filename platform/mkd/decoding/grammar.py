"""A task's JSON Schema compiled to a byte-level automaton over the student's JSON answers.

Answers are compact JSON with each object's keys in the schema's `properties` order (what the
student is trained to emit: mkd.tasks.prompts.answer_text), so
every schema of the task packs is a regular language: objects have their keys in a fixed order
(an optional key present or absent), arrays repeat one item shape, strings are characters or
JSON escapes, numbers follow the JSON number syntax. The schema becomes a Thompson NFA over
bytes; DFA states (sets of NFA states) are built lazily with full 256-byte transition rows.
Bounds on numbers (`minimum`, `maximum`...) and `format` are left to the final validation; a
construct the compiler cannot encode raises UnsupportedSchema naming its JSON pointer, which
TaskPack loading turns into an error naming the pack and the task.

Enum nodes are remembered so the decoder can choose among the allowed values as whole strings.
An `if` on one enum value with a narrower `then` becomes two alternatives; other cross-field
rules are not encoded: the final answer is always validated.
"""

from __future__ import annotations

import itertools
import re
from collections import deque
from dataclasses import dataclass

from mkd.records import canonical_json

# String characters: printable ASCII minus the quote and the backslash (those two, and control
# characters, only as escapes) and well-formed multi-byte UTF-8 sequences (so a decoded answer
# always is text).
ASCII_CHARS = frozenset(b for b in range(0x20, 0x80) if b not in (0x22, 0x5C))


def _r(lo: int, hi: int) -> frozenset[int]:
    return frozenset(range(lo, hi + 1))


CONT = _r(0x80, 0xBF)
UTF8_SEQUENCES = [
    [_r(0xC2, 0xDF), CONT],
    [frozenset({0xE0}), _r(0xA0, 0xBF), CONT],
    [_r(0xE1, 0xEC) | _r(0xEE, 0xEF), CONT, CONT],
    [frozenset({0xED}), _r(0x80, 0x9F), CONT],  # no surrogates
    [frozenset({0xF0}), _r(0x90, 0xBF), CONT, CONT],
    [_r(0xF1, 0xF3), CONT, CONT, CONT],
    [frozenset({0xF4}), _r(0x80, 0x8F), CONT, CONT],
]
DIGITS = frozenset(b"0123456789")
HEX = frozenset(b"0123456789abcdefABCDEF")
SHORT_ESCAPES = frozenset(b'"\\/bfnrt')
DEAD = -1
# On a string: the value is a span of the task's input, written as it appears there (the
# finance pack's entity names and date phrases). The grammar marks the string's body; the decoder
# allows only bytes that keep the span inside the item's input (ConstrainedDecoder.decode(spans=)).
SPAN_KEYWORD = "x-mkd-span"

# Keywords that only annotate, or that the final validation checks (bounds, formats): they need
# nothing in the grammar. Any other keyword is refused, so a schema never silently decodes to
# answers it does not describe.
_ANNOTATIONS = frozenset(
    [
        "$schema",
        "$id",
        "$comment",
        "title",
        "description",
        "default",
        "examples",
        "format",
        "additionalProperties",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
        "then",
    ]
)
_ENCODED = frozenset(
    [
        "type",
        "properties",
        "required",
        "items",
        "minItems",
        "maxItems",
        "enum",
        "const",
        "anyOf",
        "oneOf",
        "pattern",
        "minLength",
        "maxLength",
        "if",
        SPAN_KEYWORD,
    ]
)


class UnsupportedSchema(ValueError):
    """The schema uses a construct this compiler does not encode.

    Attributes:
        pointer: the JSON pointer of the offending schema node ("" for the root).
    """

    def __init__(self, message: str, pointer: str = "") -> None:
        super().__init__(f"{pointer or '/'}: {message}")
        self.pointer = pointer
        self.reason = message


def _child(pointer: str, *parts: str | int) -> str:
    """`pointer` extended by `parts`, each escaped as RFC 6901 asks (~ -> ~0, / -> ~1)."""
    for part in parts:
        pointer += "/" + str(part).replace("~", "~0").replace("/", "~1")
    return pointer


@dataclass
class Fragment:
    start: int
    end: int


class NFA:
    """Thompson NFA over bytes: epsilon edges and byte-set edges."""

    def __init__(self) -> None:
        self.eps: list[list[int]] = []
        self.edges: list[list[tuple[frozenset[int], int]]] = []
        self.enums: list[tuple[int, list[bytes]]] = []  # (fragment start, canonical literals)
        self.span_states: set[int] = set()  # body states of strings marked SPAN_KEYWORD

    def state(self) -> int:
        self.eps.append([])
        self.edges.append([])
        return len(self.eps) - 1

    def bytes_set(self, allowed: frozenset[int]) -> Fragment:
        s, e = self.state(), self.state()
        self.edges[s].append((allowed, e))
        return Fragment(s, e)

    def literal(self, data: bytes) -> Fragment:
        start = cur = self.state()
        for b in data:
            nxt = self.state()
            self.edges[cur].append((frozenset((b,)), nxt))
            cur = nxt
        return Fragment(start, cur)

    def seq(self, parts: list[Fragment]) -> Fragment:
        if not parts:
            s = self.state()
            return Fragment(s, s)
        for a, b in itertools.pairwise(parts):
            self.eps[a.end].append(b.start)
        return Fragment(parts[0].start, parts[-1].end)

    def alt(self, parts: list[Fragment]) -> Fragment:
        s, e = self.state(), self.state()
        for p in parts:
            self.eps[s].append(p.start)
            self.eps[p.end].append(e)
        return Fragment(s, e)

    def star(self, part: Fragment) -> Fragment:
        s, e = self.state(), self.state()
        self.eps[s] += [part.start, e]
        self.eps[part.end] += [part.start, e]
        return Fragment(s, e)

    def repeat(self, make, low: int, high: int | None) -> Fragment:
        """`make()` repeated low..high times (high None: unbounded)."""
        parts = [make() for _ in range(low)]
        if high is None:
            parts.append(self.star(make()))
        else:
            parts += [self.alt([make(), self.seq([])]) for _ in range(high - low)]
        return self.seq(parts)


# --- the JSON Schema subset ------------------------------------------------------------------


def _compile(nfa: NFA, schema: dict, ptr: str = "") -> Fragment:
    if not isinstance(schema, dict):
        raise UnsupportedSchema(f"schema node {schema!r} is not an object", ptr)
    unknown = sorted(set(schema) - _ANNOTATIONS - _ENCODED)
    if unknown:
        raise UnsupportedSchema(f"keyword {unknown[0]!r} is not supported", _child(ptr, unknown[0]))
    if "const" in schema:
        return nfa.literal(canonical_json(schema["const"]).encode())
    if "enum" in schema:
        literals = [canonical_json(v).encode() for v in schema["enum"]]
        frag = nfa.alt([nfa.literal(lit) for lit in literals])
        nfa.enums.append((frag.start, literals))
        return frag
    for key in ("anyOf", "oneOf"):
        if key in schema:
            subs = schema[key]
            return nfa.alt([_compile(nfa, sub, _child(ptr, key, i)) for i, sub in enumerate(subs)])
    kind = schema.get("type")
    if isinstance(kind, list):
        return nfa.alt([_compile(nfa, {**schema, "type": t}, ptr) for t in kind])
    builders = {
        "object": _object,
        "array": _array,
        "string": _string,
        "null": lambda n, s, p: n.literal(b"null"),
        "boolean": lambda n, s, p: n.alt([n.literal(b"true"), n.literal(b"false")]),
        "integer": _integer,
        "number": _number,
    }
    if kind not in builders:
        raise UnsupportedSchema(f"type {kind!r} is not supported", _child(ptr, "type"))
    return builders[kind](nfa, schema, ptr)


def _object(nfa: NFA, schema: dict, ptr: str) -> Fragment:
    props = schema.get("properties", {})
    required = schema.get("required", [])
    for i, key in enumerate(required):
        if key not in props:
            raise UnsupportedSchema(f"required key {key!r} has no schema in properties",
                                    _child(ptr, "required", i))  # fmt: skip
    # the schema's key order, as the student was trained (mkd.tasks.prompts.answer_text)
    branches = _if_then_branches(schema, props)
    if branches is None:
        return _fields(nfa, props, set(required), ptr)
    return nfa.alt([_fields(nfa, branch, set(required), ptr) for branch in branches])


def _if_then_branches(schema: dict, props: dict) -> list[dict] | None:
    """`if` one enum property has a value `then` narrower properties, as two alternatives:
    that property's other values with the properties as they are, or that value with the
    `then` properties (the finance pack's mention "none" => null currency and symbol). Other
    `if` shapes are left to the final validation (None)."""
    cond = schema.get("if", {}).get("properties", {})
    then = schema.get("then", {}).get("properties", {})
    if len(cond) != 1 or not then:
        return None
    ((key, test),) = cond.items()
    if "const" not in test or "enum" not in props.get(key, {}):
        return None
    others = [v for v in props[key]["enum"] if v != test["const"]]
    # then's schemas replace the originals: exact when they are narrower, as here (null within
    # string-or-null); a wider one would let through what the final validation then refuses
    return [{**props, key: {"enum": others}}, {**props, **then, key: {"const": test["const"]}}]


def _fields(nfa: NFA, props: dict, required: set[str], ptr: str) -> Fragment:
    """`{`, the keys in `props` order (an optional one present or absent), `}`.

    Two NFA states are carried along: `empty` (no key written yet, so the next key has no comma)
    and `some` (a key written); a required key ends `empty`, an optional one keeps both.
    """
    start = nfa.literal(b"{")
    empty: int | None = start.end
    some: int | None = None
    for key in props:
        name = canonical_json(key).encode()
        value = _compile(nfa, props[key], _child(ptr, "properties", key))
        after = nfa.state()
        nfa.eps[value.end].append(after)
        for state, head in ((empty, name + b":"), (some, b"," + name + b":")):
            if state is not None:
                lead = nfa.literal(head)
                nfa.eps[state].append(lead.start)
                nfa.eps[lead.end].append(value.start)
        if key in required:
            empty = None
        elif some is not None:
            nfa.eps[some].append(after)  # the optional key left out
        some = after
    close = nfa.literal(b"}")
    for state in (empty, some):
        if state is not None:
            nfa.eps[state].append(close.start)
    return Fragment(start.start, close.end)


def _array(nfa: NFA, schema: dict, ptr: str) -> Fragment:
    item = schema.get("items", {})
    if schema.get("minItems", 0) > 1 or "maxItems" in schema:
        bound = "maxItems" if "maxItems" in schema else "minItems"
        raise UnsupportedSchema("array bounds other than minItems 0/1", _child(ptr, bound))
    item_ptr = _child(ptr, "items")

    def more() -> Fragment:
        return nfa.seq([nfa.literal(b","), _compile(nfa, item, item_ptr)])

    body = nfa.seq([_compile(nfa, item, item_ptr), nfa.star(more())])
    if schema.get("minItems", 0) == 0:
        body = nfa.alt([body, nfa.seq([])])
    return nfa.seq([nfa.literal(b"["), body, nfa.literal(b"]")])


def _integer(nfa: NFA, schema: dict, ptr: str = "") -> Fragment:
    sign = nfa.alt([nfa.literal(b"-"), nfa.seq([])])
    zero = nfa.literal(b"0")
    digits = nfa.seq([nfa.bytes_set(frozenset(b"123456789")), nfa.star(nfa.bytes_set(DIGITS))])
    return nfa.seq([sign, nfa.alt([zero, digits])])


def _number(nfa: NFA, schema: dict, ptr: str) -> Fragment:
    """JSON's number syntax: an integer part, an optional fraction, an optional exponent."""

    def some_digits() -> Fragment:
        return nfa.seq([nfa.bytes_set(DIGITS), nfa.star(nfa.bytes_set(DIGITS))])

    fraction = nfa.alt([nfa.seq([nfa.literal(b"."), some_digits()]), nfa.seq([])])
    sign = nfa.alt([nfa.bytes_set(frozenset(b"+-")), nfa.seq([])])
    exponent = nfa.seq([nfa.bytes_set(frozenset(b"eE")), sign, some_digits()])
    return nfa.seq([_integer(nfa, schema), fraction, nfa.alt([exponent, nfa.seq([])])])


def _string_char(nfa: NFA) -> Fragment:
    """One character of a JSON string: a plain one, a UTF-8 sequence or an escape."""
    multi = [nfa.seq([nfa.bytes_set(b) for b in seq]) for seq in UTF8_SEQUENCES]
    short = nfa.seq([nfa.literal(b"\\"), nfa.bytes_set(SHORT_ESCAPES)])
    unicode = nfa.seq([nfa.literal(b"\\u"), *(nfa.bytes_set(HEX) for _ in range(4))])
    return nfa.alt([nfa.bytes_set(ASCII_CHARS), *multi, short, unicode])


def _string(nfa: NFA, schema: dict, ptr: str) -> Fragment:
    pattern = schema.get("pattern")
    body = None
    if pattern:
        try:
            body = _pattern(nfa, pattern)
        except UnsupportedSchema:
            body = None  # validated afterwards; a free string is still a string
    if body is None:
        low, high = schema.get("minLength", 0), schema.get("maxLength")
        if high is not None and high > 256:
            high = None

        first = len(nfa.eps)
        body = nfa.repeat(lambda: _string_char(nfa), low, high)
        if schema.get(SPAN_KEYWORD):
            nfa.span_states.update(range(first, len(nfa.eps)))
    elif schema.get(SPAN_KEYWORD):
        raise UnsupportedSchema(f"{SPAN_KEYWORD} with a pattern", _child(ptr, SPAN_KEYWORD))
    return nfa.seq([nfa.literal(b'"'), body, nfa.literal(b'"')])


# --- regex patterns: anchored sequences of classes and quantifiers -----------------------------

_ESCAPES = {
    "d": DIGITS,
    "w": frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"),
}
_TOKEN = re.compile(r"\\[dw]|\\.|\[[^\]]+\]|[^\\\[]")
_QUANT = re.compile(r"\{(\d+)(,(\d*))?\}|[*+?]")


def _char_class(text: str) -> frozenset[int]:
    if text.startswith("\\"):
        return _ESCAPES.get(text[1], frozenset(text[1].encode()))
    if not text.startswith("["):
        if text in ".()|^$":
            raise UnsupportedSchema(f"pattern metacharacter {text!r}")
        return frozenset(text.encode())
    inner = text[1:-1]
    if inner.startswith("^"):
        raise UnsupportedSchema("negated class")
    out: set[int] = set()
    i = 0
    while i < len(inner):
        if inner[i] == "\\" and i + 1 < len(inner):
            out |= _ESCAPES.get(inner[i + 1], {ord(inner[i + 1])})
            i += 2
        elif i + 2 < len(inner) and inner[i + 1] == "-":
            out |= set(range(ord(inner[i]), ord(inner[i + 2]) + 1))
            i += 3
        else:
            out.add(ord(inner[i]))
            i += 1
    return frozenset(b for b in out if b < 0x80 and b not in (0x22, 0x5C))


def _pattern(nfa: NFA, pattern: str) -> Fragment:
    """Anchored patterns like ^\\d{4}-\\d{2}-\\d{2}$ or ^[A-Z]{3}$ (an unanchored one is refused)."""
    if not (pattern.startswith("^") and pattern.endswith("$")):
        raise UnsupportedSchema("unanchored pattern")
    body, parts, pos = pattern[1:-1], [], 0
    while pos < len(body):
        m = _TOKEN.match(body, pos)
        cls = _char_class(m.group())
        pos = m.end()
        q = _QUANT.match(body, pos)
        low, high = 1, 1
        if q:
            pos = q.end()
            text = q.group()
            if text == "*":
                low, high = 0, None
            elif text == "+":
                low, high = 1, None
            elif text == "?":
                low, high = 0, 1
            else:
                low = int(q.group(1))
                high = low if q.group(2) is None else (int(q.group(3)) if q.group(3) else None)
        parts.append(nfa.repeat(lambda c=cls: nfa.bytes_set(c), low, high))
    return nfa.seq(parts)


# --- the lazy DFA ------------------------------------------------------------------------------


class Grammar:
    """The DFA of one schema: `row(state)` is a 256-entry list of next states (DEAD = -1)."""

    def __init__(self, schema: dict) -> None:
        self.nfa = NFA()
        frag = _compile(self.nfa, schema)
        self.final = frag.end
        self._ids: dict[frozenset[int], int] = {}
        self._sets: list[frozenset[int]] = []
        self._rows: list[list[int] | None] = []
        self.start = self._intern(self._closure({frag.start}))
        self._enum_cores = {self._core(self._closure({s})): lits for s, lits in self.nfa.enums}
        self._completion: dict[int, bytes | None] = {}
        self._span: dict[int, bool] = {}

    def _closure(self, states: set[int]) -> frozenset[int]:
        out, stack = set(states), list(states)
        while stack:
            for t in self.nfa.eps[stack.pop()]:
                if t not in out:
                    out.add(t)
                    stack.append(t)
        return frozenset(out)

    def _core(self, states: frozenset[int]) -> frozenset[int]:
        return frozenset(s for s in states if self.nfa.edges[s] or s == self.final)

    def _intern(self, states: frozenset[int]) -> int:
        if not states:
            return DEAD
        found = self._ids.get(states)
        if found is None:
            found = self._ids[states] = len(self._sets)
            self._sets.append(states)
            self._rows.append(None)
        return found

    def row(self, state: int) -> list[int]:
        """Next state for every byte from `state`."""
        cached = self._rows[state]
        if cached is not None:
            return cached
        targets: dict[int, set[int]] = {}
        for s in self._sets[state]:
            for allowed, t in self.nfa.edges[s]:
                for b in allowed:
                    targets.setdefault(b, set()).add(t)
        row = [DEAD] * 256
        for b, ts in targets.items():
            row[b] = self._intern(self._closure(ts))
        self._rows[state] = row
        return row

    def accepting(self, state: int) -> bool:
        return self.final in self._sets[state]

    def walk(self, state: int, data: bytes) -> int:
        for b in data:
            if state == DEAD:
                return DEAD
            state = self.row(state)[b]
        return state

    def next_bytes(self, state: int) -> list[int]:
        return [b for b, t in enumerate(self.row(state)) if t != DEAD]

    def forced(self, state: int) -> bytes:
        """Bytes the schema fixes from `state` (jump-forward), up to the next choice or the end."""
        out = bytearray()
        while not self.accepting(state):
            if out and self.enum_literals(state) is not None:
                break  # an enum is chosen as whole values, not byte by byte
            nxt = self.next_bytes(state)
            if len(nxt) != 1:
                break
            out.append(nxt[0])
            state = self.row(state)[nxt[0]]
        return bytes(out)

    def finished(self, state: int) -> bool:
        """Accepting with nothing more allowed: the answer is complete."""
        return self.accepting(state) and not self.next_bytes(state)

    def in_span(self, state: int) -> bool:
        """True inside the body of a string marked SPAN_KEYWORD (its closing quote not yet
        written): a byte from here that leads to another in-span state is span content."""
        if state == DEAD:
            return False
        hit = self._span.get(state)
        if hit is None:
            hit = self._span[state] = not self.nfa.span_states.isdisjoint(self._sets[state])
        return hit

    @property
    def has_spans(self) -> bool:
        return bool(self.nfa.span_states)

    def enum_literals(self, state: int) -> list[bytes] | None:
        """The allowed values when `state` is exactly the start of an enum, else None."""
        return self._enum_cores.get(self._core(self._sets[state]))

    def shortest_completion(self, state: int) -> bytes | None:
        """The fewest bytes that finish a valid answer from `state` (budget exhausted)."""
        if state in self._completion:
            return self._completion[state]
        prefer = list(b'"]}0a') + [b for b in range(0x20, 0x7F) if b not in b'"]}0a']
        seen, queue = {state: b""}, deque([state])
        result = None
        while queue:
            s = queue.popleft()
            if self.accepting(s):
                result = seen[s]
                break
            row = self.row(s)
            for b in prefer:
                t = row[b]
                if t != DEAD and t not in seen:
                    seen[t] = seen[s] + bytes((b,))
                    queue.append(t)
        self._completion[state] = result
        return result

    @property
    def num_states(self) -> int:
        return len(self._sets)
