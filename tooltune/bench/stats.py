"""Small statistics used by the scores: mean with standard error, pass^k over repeated trials, and
bootstrap intervals (a mean's, and a paired difference's) for comparing runs."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


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


def bootstrap_means(samples: Sequence[Sequence[float]], *, resamples: int = 10_000, seed: int = 0,
                    level: float = 0.95) -> list[tuple[float, float, float]]:
    """(mean, low, high) of each sample: its mean and percentile bootstrap interval of the mean.

    The samples have one length and share the resampled positions (position i is one unit, e.g. a case),
    drawn with replacement `resamples` times by numpy's PCG64 seeded with `seed`: the same seed and
    length give the same resamples in every call.
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if resamples < 1:
        raise ValueError(f"resamples must be >= 1, got {resamples}")
    data = np.asarray(samples, dtype=float)
    if data.ndim != 2:
        raise ValueError(f"samples must be a sequence of equally long sequences, got shape {data.shape}")
    m, n = data.shape
    if n == 0:
        return [(math.nan, math.nan, math.nan)] * m
    rng = np.random.default_rng(seed)
    means = np.empty((resamples, m))
    chunk = max(1, 2_000_000 // n)  # bounds the index matrix to ~16 MB whatever the number of units
    for start in range(0, resamples, chunk):
        size = min(resamples, start + chunk) - start
        picks = rng.integers(0, n, size=(size, n))
        # how often each unit was drawn in each resample; a resample's mean is then one matrix product
        counts = np.bincount((picks + (np.arange(size) * n)[:, None]).ravel(), minlength=size * n).reshape(size, n)
        means[start:start + size] = counts @ data.T / n
    tail = (1.0 - level) / 2 * 100
    lows, highs = np.percentile(means, [tail, 100 - tail], axis=0)
    return [(float(data[i].mean()), float(lows[i]), float(highs[i])) for i in range(m)]


def bootstrap_ci(values: Sequence[float], *, resamples: int = 10_000, seed: int = 0,
                 level: float = 0.95) -> tuple[float, float, float]:
    """Mean and percentile bootstrap interval of the mean: (mean, low, high); nan for no values."""
    return bootstrap_means([values], resamples=resamples, seed=seed, level=level)[0]


def paired_bootstrap(reference: Sequence[float], other: Sequence[float], *, resamples: int = 10_000, seed: int = 0,
                     level: float = 0.95) -> tuple[float, float, float]:
    """Mean paired difference (other - reference) and its percentile bootstrap interval: (diff, low, high).

    Position i of both sequences is the same unit (a case), so resampling the differences resamples
    units and keeps each pair together.
    """
    if len(reference) != len(other):
        raise ValueError(f"paired samples differ in length: {len(reference)} vs {len(other)}")
    differences = np.asarray(other, dtype=float) - np.asarray(reference, dtype=float)
    return bootstrap_ci(differences, resamples=resamples, seed=seed, level=level)
