"""pass^k and standard-error arithmetic against hand-computed values."""

from __future__ import annotations

import math

import pytest

from tooltune.bench.stats import mean_se, pass_hat_k, pass_hat_k_curve


def test_pass_hat_k_matches_combinatorics() -> None:
    assert pass_hat_k(3, 4, 1) == pytest.approx(0.75)
    assert pass_hat_k(3, 4, 2) == pytest.approx(3 / 6)  # C(3,2)/C(4,2)
    assert pass_hat_k(3, 4, 3) == pytest.approx(1 / 4)
    assert pass_hat_k(3, 4, 4) == 0.0
    assert pass_hat_k(4, 4, 4) == 1.0
    assert pass_hat_k(0, 5, 1) == 0.0


def test_pass_hat_k_is_unbiased_for_all_subsets() -> None:
    from itertools import combinations
    trials = [True, False, True, True, False]
    for k in range(1, 6):
        subsets = list(combinations(trials, k))
        exact = sum(all(s) for s in subsets) / len(subsets)
        assert pass_hat_k(sum(trials), len(trials), k) == pytest.approx(exact)


def test_curve_averages_over_tasks_and_decreases() -> None:
    curve = pass_hat_k_curve([[True, True, True], [True, False, False], [False, False, False]])
    assert curve[1] == pytest.approx((1 + 1 / 3 + 0) / 3)
    assert curve[2] == pytest.approx((1 + 0 + 0) / 3)
    assert curve[3] == pytest.approx(1 / 3)
    assert curve[1] >= curve[2] >= curve[3]


def test_pass_hat_k_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="k must be"):
        pass_hat_k(1, 3, 4)
    with pytest.raises(ValueError, match="successes"):
        pass_hat_k(4, 3, 1)


def test_mean_se() -> None:
    mean, se, n = mean_se([1.0, 2.0, 3.0, 4.0])
    assert (mean, n) == (2.5, 4)
    assert se == pytest.approx(math.sqrt(((1.5**2 + 0.5**2) * 2 / 3) / 4))
    assert mean_se([5.0])[1] == 0.0 and math.isnan(mean_se([])[0])
