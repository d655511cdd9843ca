"""Continual-learning metrics over an accuracy matrix (tooltune SPEC section 3).

a[i][j] is the score on task j after training task i (0-based here, T tasks). With the last row a[T-1]:
  AP   = mean_j a[T-1][j]                                   over all T tasks
  F.Ra = mean_j (max_{i < T-1} a[i][j] - a[T-1][j])         over the T-1 earlier tasks
  BWT  = mean_j (a[T-1][j] - a[j][j])                       over the T-1 earlier tasks
  FWT  = mean_j (a[j][j] - single_j)                        over all T tasks, single_j = task j trained alone
The forgetting terms range over earlier tasks only, as in Chaudhry et al. (2018) and Lopez-Paz & Ranzato
(2017): the last task cannot have been forgotten yet. F.Ra and BWT are None for a single task.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

Matrix = Sequence[Sequence[float]]


@dataclass(frozen=True)
class ContinualMetrics:
    """The four summary numbers of one task sequence (None where undefined or not measured)."""

    ap: float
    f_ra: float | None
    bwt: float | None
    fwt: float | None

    def as_dict(self) -> dict[str, float | None]:
        return asdict(self)


def check_matrix(matrix: Matrix) -> list[list[float]]:
    """A square T x T matrix of finite numbers, as lists; raises ValueError naming the bad entry."""
    rows = [list(r) for r in matrix]
    size = len(rows)
    if size == 0:
        raise ValueError("accuracy matrix is empty")
    for i, row in enumerate(rows):
        if len(row) != size:
            raise ValueError(f"accuracy matrix row {i} has {len(row)} entries, expected {size} (square T x T)")
        for j, value in enumerate(row):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"accuracy matrix entry [{i}][{j}] must be a finite number, got {value!r}")
    return [[float(v) for v in row] for row in rows]


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def average_performance(matrix: Matrix) -> float:
    a = check_matrix(matrix)
    return _mean(a[-1])


def forgetting_rate(matrix: Matrix) -> float | None:
    a = check_matrix(matrix)
    last = len(a) - 1
    if last == 0:
        return None
    return _mean([max(a[i][j] for i in range(last)) - a[last][j] for j in range(last)])


def backward_transfer(matrix: Matrix) -> float | None:
    a = check_matrix(matrix)
    last = len(a) - 1
    if last == 0:
        return None
    return _mean([a[last][j] - a[j][j] for j in range(last)])


def forward_transfer(matrix: Matrix, single_task: Sequence[float]) -> float:
    a = check_matrix(matrix)
    if len(single_task) != len(a):
        raise ValueError(f"single_task has {len(single_task)} scores for {len(a)} tasks")
    return _mean([a[j][j] - float(s) for j, s in enumerate(single_task)])


def continual_metrics(matrix: Matrix, single_task: Sequence[float] | None = None) -> ContinualMetrics:
    """AP, F.Ra, BWT and (given single-task scores) FWT of one accuracy matrix."""
    return ContinualMetrics(
        ap=average_performance(matrix),
        f_ra=forgetting_rate(matrix),
        bwt=backward_transfer(matrix),
        fwt=forward_transfer(matrix, single_task) if single_task is not None else None,
    )


def format_matrix(rows: Sequence[Sequence[float]], row_labels: Sequence[str], task_names: Sequence[str]) -> str:
    """Scores as an aligned text table: one row per stage (labelled), one column per evaluated task."""
    width = max(8, *(len(n) for n in task_names))
    label_width = max(len(label) for label in row_labels)
    lines = [" " * label_width + " " + " ".join(n.rjust(width) for n in task_names)]
    for label, row in zip(row_labels, rows):
        lines.append(label.ljust(label_width) + " " + " ".join(f"{float(v):.3f}".rjust(width) for v in row))
    return "\n".join(lines)
