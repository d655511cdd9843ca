"""AP, F.Ra, BWT and FWT on hand-made accuracy matrices."""

from __future__ import annotations

import pytest

from tooltune.methods.continual.metrics import (
    backward_transfer,
    continual_metrics,
    format_matrix,
    forgetting_rate,
    forward_transfer,
)

# after task 0: [0.8, 0.1, 0.0]; after task 1: [0.6, 0.9, 0.2]; after task 2: [0.5, 0.7, 0.9]
MATRIX = [[0.8, 0.1, 0.0], [0.6, 0.9, 0.2], [0.5, 0.7, 0.9]]


def test_metrics_by_hand() -> None:
    m = continual_metrics(MATRIX, single_task=[0.8, 1.0, 0.7])
    assert m.ap == pytest.approx((0.5 + 0.7 + 0.9) / 3)
    # F.Ra: task 0: max(0.8, 0.6) - 0.5 = 0.3; task 1: max(0.1, 0.9) - 0.7 = 0.2
    assert m.f_ra == pytest.approx(0.25)
    # BWT: task 0: 0.5 - 0.8; task 1: 0.7 - 0.9
    assert m.bwt == pytest.approx(-0.25)
    # FWT: (0.8 - 0.8) + (0.9 - 1.0) + (0.9 - 0.7) over 3
    assert m.fwt == pytest.approx(0.1 / 3)


def test_no_forgetting_and_positive_backward_transfer() -> None:
    improving = [[0.5, 0.0], [0.7, 0.6]]
    assert forgetting_rate(improving) == pytest.approx(-0.2)
    assert backward_transfer(improving) == pytest.approx(0.2)
    assert forward_transfer(improving, [0.5, 0.6]) == pytest.approx(0.0)


def test_single_task_and_missing_single_scores() -> None:
    m = continual_metrics([[0.4]])
    assert (m.ap, m.f_ra, m.bwt, m.fwt) == (0.4, None, None, None)
    assert continual_metrics(MATRIX).fwt is None


def test_bad_matrices_are_named() -> None:
    with pytest.raises(ValueError, match="row 1"):
        continual_metrics([[0.1, 0.2], [0.3]])
    with pytest.raises(ValueError, match=r"\[0\]\[1\]"):
        continual_metrics([[0.1, float("nan")], [0.3, 0.4]])
    with pytest.raises(ValueError, match="empty"):
        continual_metrics([])
    with pytest.raises(ValueError, match="single_task"):
        forward_transfer(MATRIX, [0.1])


def test_format_matrix_has_one_line_per_stage() -> None:
    text = format_matrix(MATRIX, ["after a", "after b", "after c"], ["a", "b", "c"])
    lines = text.splitlines()
    assert len(lines) == 4 and lines[3].startswith("after c") and lines[3].endswith("0.900")
