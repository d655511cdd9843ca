"""Combining several judges: the median of their scores, per dimension and per key point."""

from __future__ import annotations

import statistics
from typing import Any

from tooltune.bench.judge.schema import DIMENSIONS, NOT_APPLICABLE


def _median(values: list[float]) -> float | None:
    return float(statistics.median(values)) if values else None


def combine(verdicts: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """One score per dimension (0-5) and per sub-point (0-2 or None = not applicable) from many judges."""
    if not verdicts:
        raise ValueError("combine needs at least one verdict")
    out: dict[str, Any] = {"judges": sorted(verdicts)}
    for dim in DIMENSIONS:
        out[dim] = _median([float(v[dim]["final_score"]) for v in verdicts.values()])
        count = len(next(iter(verdicts.values()))[dim]["subpoints"])
        out[f"{dim}_points"] = [
            _median([float(v[dim]["subpoints"][i]["score"]) for v in verdicts.values()
                     if v[dim]["subpoints"][i]["score"] != NOT_APPLICABLE])
            for i in range(count)
        ]
        finals = [v[dim]["final_score"] for v in verdicts.values()]
        out[f"{dim}_spread"] = float(max(finals) - min(finals))
    return out
