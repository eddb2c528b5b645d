"""Which validation point the final adapter keeps: the last one, unless an earlier one is
better by more than the validation slice can tell from noise.

The slice is small on a CPU (the demo's: 16 queries, 64 answers), so on a still-rising curve an
earlier point often looks a few answers better by chance; restoring it then throws away the
last steps' training. The evidence is the answers the two points disagree on: an exact one-sided
sign test over them (McNemar's exact test) must find the earlier point better.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any


def sign_test_p(wins: int, losses: int) -> float:
    """P(X >= wins) for X ~ Binomial(wins + losses, 1/2): the chance of at least `wins` of the
    disagreements going one way if neither point were better (1.0 with no disagreement)."""
    n = wins + losses
    if n == 0:
        return 1.0
    return sum(math.comb(n, k) for k in range(wins, n + 1)) / 2**n


def restore_evidence(
    best: Sequence[bool], last: Sequence[bool], max_p: float
) -> tuple[bool, dict[str, Any]]:
    """(restore the best point?, the evidence) from each point's per-answer exact matches on
    the same validation answers, in the same order."""
    if len(best) != len(last):
        raise ValueError(
            f"validation answers differ: {len(best)} at the best point, {len(last)} last"
        )
    best_only = sum(1 for b, a in zip(best, last, strict=True) if b and not a)
    last_only = sum(1 for b, a in zip(best, last, strict=True) if a and not b)
    p = sign_test_p(best_only, last_only)
    return p < max_p, {"best_only": best_only, "last_only": last_only, "sign_test_p": round(p, 4)}
