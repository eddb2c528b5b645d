"""Token loss weights on a list answer's go-on-or-close decisions.

A list answer (entities, dates) commits, token by token, mostly to text the query or the grammar
already fixes; its few real decisions are whether the list is empty and, after each item,
whether another one follows. A small student that closes the list one item early (an entity list
that stops after the metric and drops the company named after it) loses the whole answer, yet
that decision is one token among twenty in the loss. `list_decision_weight` gives the tokens
that hold these decisions more weight: the token that holds the character after `[`, and after
each top-level item, the tokens holding the item's last character and the character after it
(in SmolLM2's vocabulary `"},` against `"}`, so the decision sits in the item's last token;
another vocabulary may split it off into `,` / `]`).
"""

from __future__ import annotations

from collections.abc import Sequence


def list_decision_chars(answer: str) -> set[int]:
    """Character positions of `answer` (compact JSON) that hold a list decision; empty when the
    answer is not a list."""
    if not answer.startswith("["):
        return set()
    chars = {0, 1}  # `[` and what follows it: `]` (empty) or the first item
    depth, in_string, escaped = 0, False, False
    for i, c in enumerate(answer):
        if in_string:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == '"':
                in_string = False
                if depth == 1:  # a string item of the top-level list ends here
                    chars |= {i, i + 1}
            continue
        if c == '"':
            in_string = True
        elif c in "[{":
            depth += 1
        elif c in "]}":
            depth -= 1
            if depth == 1:  # an object or list item of the top-level list ends here
                chars |= {i, i + 1}
    return {i for i in chars if i < len(answer)}


def decision_token_weights(
    offsets: Sequence[tuple[int, int]], chars: set[int], weight: float
) -> tuple[float, ...]:
    """One weight per answer token: `weight` where the token's character span holds one of
    `chars`, 1 elsewhere."""
    return tuple(weight if any(start <= c < end for c in chars) else 1.0 for start, end in offsets)
