"""The comparison over several training seeds: one comparison per seed in `OUT/seedN`, then each measure's
mean over seeds with its standard error over seeds, and paired differences (per seed, on the same held-out
items): retention against the base model, tool use against LoRA, the two references of CITI's claim."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from tooltune.atomic import write_json_atomic, write_text_atomic
from tooltune.methods.citi.config import CompareSettings
from tooltune.methods.citi.metrics import mean_se
from tooltune.train.data import Example

SeedData = Callable[[int], tuple[list[Example], list[Example], CompareSettings]]
"""seed -> (training rows, held-out rows, settings) of that seed's comparison."""

MEASURES = (("exact_accuracy", "tool call exact", 3), ("bench_checks", "bench checks", 3),
            ("general_perplexity", "general ppl", 2), ("cloze_accuracy", "cloze", 3),
            ("task_accuracy", "held-out tasks", 3))
"""(result key, column, digits) of the summary table."""
TOOL_MEASURES = ("exact_accuracy", "bench_checks")
"""Measured against LoRA in the paired differences; the others (retention) against the base model."""

Rows = Sequence[Mapping[str, Any]]


def _value(rows: Rows, method: str, key: str) -> float | None:
    row = next((r for r in rows if r.get("method") == method), None)
    value = row.get(key) if row else None
    return float(value) if isinstance(value, (int, float)) else None


def seed_summary(rows_by_seed: Mapping[int, Rows]) -> dict[str, Any]:
    """{"seeds", "means": {method: {key: {mean, se, values}}}, "differences": {"method - ref": {key: ...}}} for
    the result rows of one comparison per seed. A measure missing in some seed is left out for that method."""
    seeds = sorted(rows_by_seed)
    methods = list(dict.fromkeys(r["method"] for s in seeds for r in rows_by_seed[s]))
    keys = [key for key, _, _ in MEASURES]

    def stats(values: list[float | None]) -> dict[str, Any] | None:
        if not values or any(v is None for v in values):
            return None
        mean, se = mean_se([float(v) for v in values])  # type: ignore[arg-type]
        return {"mean": mean, "se": se, "values": values}

    means = {m: {k: s for k in keys if (s := stats([_value(rows_by_seed[x], m, k) for x in seeds]))}
             for m in methods}
    differences: dict[str, dict[str, Any]] = {}
    for method in methods:
        for key in keys:
            reference = "lora" if key in TOOL_MEASURES else "base"
            if method == reference or reference not in methods:
                continue
            pairs = [(_value(rows_by_seed[x], method, key), _value(rows_by_seed[x], reference, key)) for x in seeds]
            diff = stats([a - b if a is not None and b is not None else None for a, b in pairs])
            if diff:
                differences.setdefault(f"{method} - {reference}", {})[key] = diff
    return {"seeds": seeds, "means": means, "differences": differences}


def _cell(stat: Mapping[str, Any] | None, digits: int, signed: bool = False) -> str:
    if not stat:
        return "n/a"
    sign = "+" if signed else ""
    values = ", ".join(f"{v:{sign}.{digits}f}" for v in stat["values"])
    return f"{stat['mean']:{sign}.{digits}f} ± {stat['se']:.{digits}f} ({values})"


def summary_table(summary: Mapping[str, Any]) -> str:
    """Markdown: means over seeds ± SE over seeds (per-seed values in brackets), then the paired differences."""
    header = "| {} | " + " | ".join(column for _, column, _ in MEASURES) + " |"
    rule = "|---|" + "---|" * len(MEASURES)
    lines = [f"Mean over seeds {', '.join(map(str, summary['seeds']))} ± standard error over seeds "
             "(per-seed values in brackets).", "", header.format("method"), rule]
    for method, stats in summary["means"].items():
        lines.append(f"| {method} | " + " | ".join(_cell(stats.get(k), d) for k, _, d in MEASURES) + " |")
    if summary["differences"]:
        lines += ["", "Paired differences per seed (tool measures against LoRA, retention against base):", "",
                  header.format("difference"), rule]
        for name, stats in summary["differences"].items():
            lines.append(f"| {name} | " + " | ".join(_cell(stats.get(k), d, signed=True) for k, _, d in MEASURES)
                         + " |")
    return "\n".join(lines) + "\n"


def run_seeds(methods: Sequence[str], model: str, seeds: Sequence[int], data_for: SeedData, out: Path,
              overwrite: bool = False, log: Any = print) -> dict[str, Any]:
    """One comparison per seed in `out/seedN` (each resumable), then `out/summary.json` and `summary.md`.

    The base model trains nothing and every seed scores the same held-out items (`eval_seed`, the held-out rows
    and cases do not depend on the training seed), so base is scored in the first seed only and its row stands
    for it in the others."""
    from tooltune.methods.citi.experiment import run_comparison

    rows_by_seed: dict[int, list[dict[str, Any]]] = {}
    base_row: dict[str, Any] | None = None
    for seed in seeds:
        train, held_out, settings = data_for(seed)
        own = [m for m in methods if m != "base" or base_row is None]
        comparison = run_comparison(own, model, train, held_out, out / f"seed{seed}", settings, overwrite, log=log)
        log(comparison.table())
        base_row = base_row or next((r for r in comparison.rows if r["method"] == "base"), None)
        shared = [base_row] if base_row is not None and "base" not in own else []
        rows_by_seed[seed] = shared + comparison.rows
    summary = seed_summary(rows_by_seed)
    write_json_atomic(out / "summary.json", summary)
    write_text_atomic(out / "summary.md", summary_table(summary))
    return summary
