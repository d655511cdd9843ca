"""Continual-learning results over several task orders: each method's AP / F.Ra / BWT / FWT as mean and
standard error over the orders, and each method's paired difference from a reference method (the same
order is the pair). Reads what `tooltune train continual --json` writes; a run of one order may be split
over several files (methods run separately), and the task sequence says which order a result belongs to."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tooltune.bench.stats import mean_se
from tooltune.methods.continual.config import ContinualError

METRICS = ("ap", "f_ra", "bwt", "fwt")


def read_results(paths: Sequence[str | Path]) -> dict[tuple[str, ...], dict[str, dict]]:
    """{task order: {method: result}} from `--json` files; the same method twice in one order is refused."""
    orders: dict[tuple[str, ...], dict[str, dict]] = {}
    for path in paths:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            results = data["results"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ContinualError(f"{path}: not a `train continual --json` file ({type(exc).__name__}: {exc})") from exc
        for result in results:
            order = orders.setdefault(tuple(result["tasks"]), {})
            if result["method"] in order:
                raise ContinualError(f"{path}: {result['method']} on {' -> '.join(result['tasks'])} is given twice")
            order[result["method"]] = result
    return orders


def summarize(orders: dict[tuple[str, ...], dict[str, dict]], reference: str = "seqlora") -> dict[str, Any]:
    """Per method: each metric's (mean, se, n) over the orders it ran in, and, where `reference` ran in the
    same orders, the paired difference method - reference as (mean, se, n)."""
    methods = sorted({m for results in orders.values() for m in results})
    summary: dict[str, Any] = {"orders": [list(o) for o in orders], "reference": reference, "methods": {}}
    for method in methods:
        ran = [results for results in orders.values() if method in results]
        row: dict[str, Any] = {"orders": len(ran), "metrics": {}, "minus_reference": {}}
        for metric in METRICS:
            values = [r[method]["metrics"][metric] for r in ran if r[method]["metrics"].get(metric) is not None]
            row["metrics"][metric] = mean_se(values) if values else None
            pairs = [r[method]["metrics"][metric] - r[reference]["metrics"][metric] for r in ran
                     if reference in r and r[method]["metrics"].get(metric) is not None
                     and r[reference]["metrics"].get(metric) is not None]
            row["minus_reference"][metric] = mean_se(pairs) if pairs and method != reference else None
        summary["methods"][method] = row
    return summary


def _cell(value: tuple[float, float, int] | None, signed: bool = False) -> str:
    if value is None or math.isnan(value[0]):
        return "n/a"
    mean, se, _ = value
    return f"{mean:+.3f} ± {se:.3f}" if signed else f"{mean:.3f} ± {se:.3f}"


def summary_table(summary: dict[str, Any]) -> str:
    """Markdown: one row per method, mean ± SE over orders, then the paired differences from the reference."""
    names = {"ap": "AP", "f_ra": "F.Ra", "bwt": "BWT", "fwt": "FWT"}
    reference = summary["reference"]
    head = ["method", "orders", *names.values(), *(f"{n} - {reference}" for n in ("AP", "BWT"))]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for method, row in summary["methods"].items():
        cells = [method, str(row["orders"]), *(_cell(row["metrics"][m]) for m in METRICS),
                 *(_cell(row["minus_reference"][m], signed=True) for m in ("ap", "bwt"))]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
