"""The profile experiment over several users, pooled: each user's own internalized student and control, the
held-out cases of all users put together, and every condition compared with the profile-in-prompt one case
by case (paired percentile bootstrap over cases, as `tooltune bench compare` does for one pair of runs)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from statistics import mean
from typing import Any

import numpy as np

from tooltune.bench.stats import bootstrap_ci, paired_bootstrap
from tooltune.methods.internalize.config import ProfileConfig
from tooltune.methods.internalize.errors import InternalizeError
from tooltune.methods.internalize.profile_eval import personal_counts
from tooltune.methods.internalize.progress import Event, Progress, print_messages

REFERENCE = "untrained, profile in prompt"
"""The condition the others are compared with: the starting agent reading the profile in its prompt."""
CONTROL = "trained without profile, no profile"
"""The second reference: the same agent trained on the same trajectories without the profile (what the
internalized profile adds over the training itself)."""
RESAMPLES = 10_000


def run_profile_users(configs: Sequence[ProfileConfig], out: str | Path, student: str = "smollm2", *,
                      student_adapter: str | Path | None = None, overwrite: bool = False,
                      progress: Progress = print_messages) -> dict:
    """The profile experiment for each config's user in turn (each in its own output directory, resumable),
    then the pooled comparison against the profile in the prompt (`out/pooled.json`) and against the control
    trained without the profile (`out/pooled_vs_control.json`), both tables in `out/pooled.txt`."""
    from tooltune.methods.internalize.experiment import run_internalize
    from tooltune.methods.internalize.profile import check_users
    from tooltune.sandbox.suite import builtin_suite

    users = [c.user for c in configs]
    if len(set(users)) != len(users):
        raise InternalizeError(f"user: each user once, got {users}")
    check_users(builtin_suite(), users)  # before the first user trains
    reports = []
    for config in configs:
        progress(Event("user", f"== user {config.user} ==", {"user": config.user}))
        reports.append(run_internalize(config, student, student_adapter=student_adapter, overwrite=overwrite,
                                       progress=progress))
    pooled, against_control = pooled_comparison(reports), pooled_comparison(reports, CONTROL)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "pooled.json").write_text(json.dumps(pooled, indent=2) + "\n")
    (out / "pooled_vs_control.json").write_text(json.dumps(against_control, indent=2) + "\n")
    table = pooled_table(pooled) + "\n\n" + pooled_table(against_control)
    (out / "pooled.txt").write_text(table + "\n")
    progress(Event("table", table, {"pooled": pooled}))
    return pooled


def pooled_comparison(reports: Sequence[dict], reference: str = REFERENCE, *, resamples: int = RESAMPLES,
                      seed: int = 0) -> dict:
    """Per condition, over the held-out cases of every report (one per user): personal checks passed and
    decided, the paired difference in passed checks per case against `reference`, the share of the
    reference's passed checks kept (ratio of sums, bootstrap interval over cases) and the mean first-turn
    prompt tokens."""
    conditions = [r["condition"] for r in reports[0]["results"]]
    if reference not in conditions:
        raise InternalizeError(f"reference: no condition {reference!r} in {conditions}")
    counts: dict[str, dict[str, tuple[int, int]]] = {c: {} for c in conditions}
    tokens: dict[str, list[float]] = {c: [] for c in conditions}
    for report in reports:
        rows = {r["condition"]: r for r in report["results"]}
        if set(rows) != set(conditions):
            raise InternalizeError(f"reports: conditions differ ({sorted(rows)} vs {sorted(conditions)})")
        for name, row in rows.items():
            counts[name].update(personal_counts(row["run_dir"]))
            tokens[name] += [row["first_turn_prompt_tokens"]] * len(report["test"])
    cases = sorted(set.intersection(*(set(c) for c in counts.values())))
    if not cases:
        raise InternalizeError("reports: no held-out case was run under every condition")
    passed = {c: [counts[c][case][0] for case in cases] for c in conditions}
    result: dict[str, Any] = {"reference": reference, "cases": cases, "users": [r["config"]["user"] for r in reports],
                              "method": {"unit": "case", "interval": "percentile bootstrap over cases, paired",
                                         "level": 0.95, "resamples": resamples, "seed": seed}, "conditions": {}}
    for name in conditions:
        diff = paired_bootstrap(passed[reference], passed[name], resamples=resamples, seed=seed)
        result["conditions"][name] = {
            "personal_passed": sum(passed[name]), "personal_decided": sum(counts[name][c][1] for c in cases),
            "passed_per_case": bootstrap_ci(passed[name], resamples=resamples, seed=seed),
            "diff_per_case": diff,
            "kept_of_reference": kept_share(passed[reference], passed[name], resamples=resamples, seed=seed),
            "first_turn_prompt_tokens": mean(tokens[name])}
    return result


def kept_share(reference: Sequence[float], other: Sequence[float], *, resamples: int = RESAMPLES, seed: int = 0,
               level: float = 0.95) -> tuple[float, float, float]:
    """sum(other) / sum(reference) and its percentile bootstrap interval over the paired units (nan where the
    reference passes nothing); resamples with a zero reference sum are left out of the interval."""
    ref, oth = np.asarray(reference, dtype=float), np.asarray(other, dtype=float)
    if ref.sum() == 0:
        return (float("nan"),) * 3
    picks = np.random.default_rng(seed).integers(0, len(ref), size=(resamples, len(ref)))
    denominators = ref[picks].sum(axis=1)
    ratios = oth[picks].sum(axis=1)[denominators > 0] / denominators[denominators > 0]
    tail = (1.0 - level) / 2 * 100
    low, high = np.percentile(ratios, [tail, 100 - tail])
    return float(oth.sum() / ref.sum()), float(low), float(high)


def pooled_table(pooled: dict) -> str:
    """The pooled comparison as a fixed-width table."""
    lines = [f"{len(pooled['cases'])} held-out cases of {', '.join(pooled['users'])}; reference: {pooled['reference']}",
             f"{'condition':<40} {'personal':>9} {'per case [95% CI]':>22} {'diff vs ref [95% CI]':>24} "
             f"{'kept [95% CI]':>20} {'1st prompt tok':>14}"]
    for name, row in pooled["conditions"].items():
        mean_, low, high = row["passed_per_case"]
        diff, dlow, dhigh = row["diff_per_case"]
        kept, klow, khigh = row["kept_of_reference"]
        lines.append(f"{name:<40} {row['personal_passed']:>4}/{row['personal_decided']:<4} "
                     f"{mean_:>6.2f} [{low:.2f}, {high:.2f}]   {diff:>+6.2f} [{dlow:+.2f}, {dhigh:+.2f}]   "
                     f"{kept:>5.2f} [{klow:.2f}, {khigh:.2f}] {row['first_turn_prompt_tokens']:>14.0f}")
    return "\n".join(lines)
