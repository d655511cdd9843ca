"""Small statistics used by the scores: mean with standard error, and pass^k over repeated trials."""

from __future__ import annotations

import math
from collections.abc import Sequence


def mean_se(values: Sequence[float]) -> tuple[float, float, int]:
    """Mean, standard error of the mean (sample std / sqrt(n); 0 for n < 2) and n."""
    n = len(values)
    if n == 0:
        return math.nan, math.nan, 0
    mean = sum(values) / n
    if n < 2:
        return mean, 0.0, n
    variance = sum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, math.sqrt(variance / n), n


def pass_hat_k(successes: int, trials: int, k: int) -> float:
    """Unbiased estimate that k trials drawn from n all succeed: C(c, k) / C(n, k) (tau-bench's pass^k)."""
    if not 0 <= successes <= trials:
        raise ValueError(f"successes must be in [0, trials], got {successes} of {trials}")
    if not 1 <= k <= trials:
        raise ValueError(f"k must be in [1, trials={trials}], got {k}")
    return math.comb(successes, k) / math.comb(trials, k)


def pass_hat_k_curve(outcomes: Sequence[Sequence[bool]]) -> dict[int, float]:
    """pass^k averaged over tasks, for k = 1 .. the smallest number of trials of any task."""
    if not outcomes:
        return {}
    n_min = min(len(o) for o in outcomes)
    return {k: sum(pass_hat_k(sum(o), len(o), k) for o in outcomes) / len(outcomes) for k in range(1, n_min + 1)}
