"""Paired comparison of benchmark runs: the same cases and trials, a reference run against the others.

Episodes are matched by (case, strategy, setting, trial); only episodes present in every run count.
The unit of analysis is the case: each run's per-episode scores are averaged within a case (over the
matched trials, strategies and settings, as the run's own scores average trials), and means, paired
differences (run_i - run_0) and their percentile bootstrap intervals are over cases, resampled with
replacement (`stats.bootstrap_means`; `stats.paired_bootstrap` for one pair). Every numeric per-episode
column of `episodes.csv` is a dimension, except identity columns and per-episode counts (turns,
calls...), which are compared as diagnostics. A run directory is read, never written: scores come from its `episodes.csv`, trajectories
from `trajectories.jsonl` (`tooltune bench report RUN` rewrites both from the log).
"""

from __future__ import annotations

import csv
import json
import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tooltune.bench.compare_report import write_comparison_report
from tooltune.bench.episode import EpisodeRecord
from tooltune.bench.rundir import CONFIG_NAME, JUDGMENTS, read_judgments
from tooltune.bench.scores import write_json
from tooltune.bench.stats import bootstrap_means
from tooltune.errors import UsageError

EpisodeId = tuple[str, str, str, int]  # case_id, strategy, setting, trial
IDENTITY_COLUMNS = ("episode", "case_id", "user", "apps", "strategy", "setting", "trial", "finish_reason")
# per-episode counts, not scores: compared too, under "diagnostics"
COUNT_COLUMNS = ("turns", "tool_calls", "tool_errors", "malformed", "unjudged_keypoints")
KEY_PARTS = ("cases", "strategies", "settings", "trials")


class CompareError(UsageError):
    """The runs cannot be compared as asked (not a run directory, no episodes in common...)."""


@dataclass
class Run:
    """One run directory as the comparison sees it: its config, label and per-episode scores."""

    path: Path
    config: dict[str, Any]
    label: str
    rows: dict[EpisodeId, dict[str, Any]]  # numeric columns parsed (float or None), others as text
    columns: list[str]  # numeric non-identity columns, in episodes.csv order

    def episodes(self, keys: set[EpisodeId]) -> dict[EpisodeId, EpisodeRecord]:
        """The run's recorded episodes among `keys`, from its trajectories.jsonl (none if it has none)."""
        path = self.path / "trajectories.jsonl"
        if not path.exists():
            return {}
        out = {}
        with path.open("rb") as handle:
            for number, line in enumerate(handle, 1):
                try:
                    record = EpisodeRecord.from_dict(json.loads(line))
                except (ValueError, TypeError, KeyError) as error:
                    raise CompareError(f"{path}:{number}: not an episode ({type(error).__name__}); rewrite it "
                                       f"with `tooltune bench report {self.path}`") from None
                key = (record.key.case_id, record.key.strategy, record.key.setting, record.key.trial)
                if key in keys:
                    out[key] = record
        return out

    def verdicts(self) -> dict[str, Any]:
        """The judge's verdicts per episode id, if the run was judged."""
        path = self.path / JUDGMENTS
        return read_judgments(path) if path.exists() else {}


@dataclass
class Comparison:
    runs: list[Run]
    keys: list[EpisodeId]  # matched episodes, sorted
    result: dict[str, Any]  # what compare.json holds


def run_label(config: dict[str, Any]) -> str:
    """Model, plus the adapter's directory name when one was attached."""
    adapter = config.get("adapter")
    return str(config.get("model", "?")) + (f" + {Path(adapter).name}" if adapter else "")


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def load_run(path: str | Path) -> Run:
    """Read a run directory's config and episodes.csv; CompareError says what is missing."""
    path = Path(path)
    if not path.is_dir():
        raise CompareError(f"{path}: no such run directory")
    if not (path / CONFIG_NAME).is_file():
        raise CompareError(f"{path} is not a run directory (no {CONFIG_NAME})")
    table = path / "episodes.csv"
    if not table.is_file():
        raise CompareError(f"{path} has no episodes.csv; write it with `tooltune bench report {path}`")
    try:
        config = json.loads((path / CONFIG_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise CompareError(f"{path / CONFIG_NAME} is not valid JSON: {error}") from None
    if not isinstance(config, dict):
        raise CompareError(f"{path / CONFIG_NAME}: expected an object of run options")
    rewrite = f"rewrite it with `tooltune bench report {path}`"
    try:
        with table.open(newline="", encoding="utf-8") as handle:
            raw = list(csv.DictReader(handle))
    except (OSError, ValueError, csv.Error) as error:
        raise CompareError(f"{table}: unreadable ({error}); {rewrite}") from None
    if not raw:
        raise CompareError(f"{path} has no finished episodes")
    missing = [c for c in ("case_id", "strategy", "setting", "trial") if c not in raw[0]]
    if missing:
        raise CompareError(f"{table} lacks the column(s) {missing}")
    broken = next((i for i, r in enumerate(raw) if None in r or None in r.values() or _number(r["trial"]) is None),
                  None)
    if broken is not None:
        raise CompareError(f"{table}: data row {broken + 1} is cut off or malformed; {rewrite}")
    # a column is numeric when every non-empty cell parses as a number (empty = not applicable)
    columns = [c for c in raw[0] if c not in IDENTITY_COLUMNS
               and all(r[c] == "" or _number(r[c]) is not None for r in raw)]
    rows: dict[EpisodeId, dict[str, Any]] = {}
    for r in raw:
        row: dict[str, Any] = dict(r)
        row.update({c: (None if r[c] == "" else _number(r[c])) for c in columns})
        rows[(r["case_id"], r["strategy"], r["setting"], int(float(r["trial"])))] = row
    return Run(path, config, run_label(config), rows, columns)


def _unique_labels(runs: Sequence[Run]) -> None:
    """Disambiguate equal labels by the run directory's name, then by position."""
    for make in (lambda r, i: f"{r.label} ({r.path.name})", lambda r, i: f"{r.label} #{i + 1}"):
        seen: dict[str, int] = defaultdict(int)
        for run in runs:
            seen[run.label] += 1
        for i, run in enumerate(runs):
            if seen[run.label] > 1:
                run.label = make(run, i)


def _described(values: set) -> str:
    items = sorted(values)
    return ",".join(map(str, items)) if len(items) <= 4 else f"{len(items)} values"


def match_episodes(runs: Sequence[Run]) -> list[EpisodeId]:
    """Episodes present in every run; CompareError naming what differs when there are none."""
    shared = set(runs[0].rows).intersection(*(r.rows for r in runs[1:]))
    if shared:
        return sorted(shared)
    differences = []
    for part, name in enumerate(KEY_PARTS):
        sets = [{k[part] for k in run.rows} for run in runs]
        if any(s != sets[0] for s in sets[1:]):
            common = len(set.intersection(*sets))
            differences.append(f"{name} differ (" + "; ".join(
                f"{run.label}: {_described(s)}" for run, s in zip(runs, sets)) + f"; {common} in common)")
    detail = "; ".join(differences) or "no (case, strategy, setting, trial) combination is in every run"
    raise CompareError(f"the runs share no episodes: {detail}")


def _case_table(runs: Sequence[Run], keys: Sequence[EpisodeId], dim: str) -> tuple[list[str], list[list[float]]]:
    """Case ids and, per run, each case's mean over the episodes scored on `dim` in every run."""
    by_case: dict[str, list[list[float]]] = defaultdict(lambda: [[] for _ in runs])
    for key in keys:
        values = [run.rows[key].get(dim) for run in runs]
        if all(v is not None for v in values):
            for i, value in enumerate(values):
                by_case[key[0]][i].append(value)
    cases = sorted(by_case)
    return cases, [[sum(by_case[c][i]) / len(by_case[c][i]) for c in cases] for i in range(len(runs))]


def _entry(stats: Sequence[tuple[float, float, float]], n_runs: int) -> tuple[dict[str, Any], list]:
    """{"means", "diff", "ci"} (scalar diff/ci for two runs, one per other run beyond) and each mean's CI,
    from the bootstrap of the runs' case values followed by their differences to the reference."""
    means = [mean for mean, _, _ in stats[:n_runs]]
    mean_ci = [[low, high] for _, low, high in stats[:n_runs]]
    diffs = [diff for diff, _, _ in stats[n_runs:]]
    cis = [[low, high] for _, low, high in stats[n_runs:]]
    if n_runs == 2:
        return {"means": means, "diff": diffs[0], "ci": cis[0]}, mean_ci
    return {"means": means, "diff": diffs, "ci": cis}, mean_ci


def compare_block(runs: Sequence[Run], keys: Sequence[EpisodeId], dims: Sequence[str], *, resamples: int,
                  seed: int, level: float) -> dict[str, Any]:
    """Means, paired differences and intervals of `dims` over the cases of `keys`.

    Dimensions scored on the same cases are bootstrapped together: they share the case resamples, and
    so do each run's mean and the per-case differences (the pairing).
    """
    block: dict[str, Any] = {"n_cases": len({k[0] for k in keys}), "n_episodes": len(keys), "dimensions": {},
                             "mean_ci": {}, "cases_per_dimension": {}}
    tables = {dim: _case_table(runs, keys, dim) for dim in dims}
    by_cases: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for dim, (cases, _) in tables.items():
        if cases:
            by_cases[tuple(cases)].append(dim)
    width = 2 * len(runs) - 1  # the runs' case values, then each other run's differences to the reference
    entries = {}
    for cases, group in by_cases.items():
        samples = []
        for dim in group:
            values = tables[dim][1]
            samples += values + [[v - r for v, r in zip(column, values[0])] for column in values[1:]]
        stats = bootstrap_means(samples, resamples=resamples, seed=seed, level=level)
        for j, dim in enumerate(group):
            entries[dim] = _entry(stats[j * width:(j + 1) * width], len(runs))
    for dim in dims:
        if dim in entries:
            block["dimensions"][dim], block["mean_ci"][dim] = entries[dim]
            block["cases_per_dimension"][dim] = len(tables[dim][0])
    return block


def _per(runs: Sequence[Run], keys: Sequence[EpisodeId], name_of: Callable[[dict[str, Any]], list[str]],
         dims: Sequence[str], **stats: Any) -> dict[str, Any]:
    groups: dict[str, list[EpisodeId]] = defaultdict(list)
    for key in keys:
        for name in name_of(runs[0].rows[key]):
            groups[name].append(key)
    return {name: compare_block(runs, mine, dims, **stats) for name, mine in sorted(groups.items())}


def _per_case(runs: Sequence[Run], keys: Sequence[EpisodeId], dims: Sequence[str]) -> list[dict[str, Any]]:
    """Each matched case: its episode count, every run's case mean per dimension, and the differences."""
    tables = {}
    for dim in dims:
        cases, values = _case_table(runs, keys, dim)
        tables[dim] = {case: [column[j] for column in values] for j, case in enumerate(cases)}
    first: dict[str, EpisodeId] = {}
    counts: dict[str, int] = defaultdict(int)
    for key in keys:
        first.setdefault(key[0], key)
        counts[key[0]] += 1
    out = []
    for case_id in sorted(counts):
        row = runs[0].rows[first[case_id]]
        scores = {dim: table[case_id] for dim, table in tables.items() if case_id in table}
        diffs = {dim: [v - values[0] for v in values[1:]] for dim, values in scores.items()}
        out.append({"case_id": case_id, "user": row.get("user"), "apps": row.get("apps"), "episodes": counts[case_id],
                    "scores": scores, "diff": {d: v[0] if len(runs) == 2 else v for d, v in diffs.items()}})
    return out


def _dimensions(runs: Sequence[Run]) -> tuple[list[str], list[str]]:
    """Score dimensions and count diagnostics: the union of the runs' numeric columns, in column order."""
    ordered = list(dict.fromkeys(c for run in runs for c in run.columns))
    return [c for c in ordered if c not in COUNT_COLUMNS], [c for c in ordered if c in COUNT_COLUMNS]


def compare_runs(paths: Sequence[str | Path], *, labels: Sequence[str] | None = None, resamples: int = 10_000,
                 seed: int = 0, level: float = 0.95) -> Comparison:
    """Load two or more runs (the first is the reference), match their episodes and compare every dimension."""
    if len(paths) < 2:
        raise CompareError(f"give at least two run directories (the first is the reference), got {len(paths)}")
    if resamples < 1:
        raise CompareError(f"resamples must be >= 1, got {resamples}")
    runs = [load_run(p) for p in paths]
    if labels:
        if len(labels) != len(runs):
            raise CompareError(f"--labels: {len(labels)} labels for {len(runs)} runs")
        for run, label in zip(runs, labels):
            run.label = label
    _unique_labels(runs)
    keys = match_episodes(runs)
    dims, diagnostics = _dimensions(runs)
    stats = {"resamples": resamples, "seed": seed, "level": level}
    overall = compare_block(runs, keys, dims, **stats)
    skipped = {}
    for dim in dims:
        if dim not in overall["dimensions"]:
            without = [r.label for r in runs if all(row.get(dim) is None for row in r.rows.values())]
            if len(without) < len(runs):
                skipped[dim] = (f"no values in {', '.join(without)}" if without
                                else "no matched episode is scored in every run")
    scored = list(overall["dimensions"])
    result: dict[str, Any] = {
        "runs": [str(r.path.resolve()) for r in runs],
        "dimensions": overall["dimensions"],
        "labels": [r.label for r in runs],
        "reference": runs[0].label,
        "n_cases": overall["n_cases"],
        "n_episodes": len(keys),
        "dropped": {r.label: len(r.rows) - len(keys) for r in runs},
        "cases_per_dimension": overall["cases_per_dimension"],
        "mean_ci": overall["mean_ci"],
        "skipped_dimensions": skipped,
        "diagnostics": compare_block(runs, keys, diagnostics, **stats)["dimensions"],
        "method": {"unit": "case (scores averaged over its matched trials, strategies and settings)",
                   "interval": "percentile bootstrap over cases, resampled with replacement; paired for diffs",
                   "level": level, "resamples": resamples, "seed": seed,
                   "diff": "run_i - run_0; a list with one entry per non-reference run when comparing > 2 runs"},
        "per_group": _per(runs, keys, lambda row: [f"{row['strategy']}/{row['setting']}"], scored, **stats),
        "per_app": _per(runs, keys, lambda row: [a for a in str(row.get("apps") or "").split("+") if a],
                        scored, **stats),
        "per_user": _per(runs, keys, lambda row: [str(row.get("user"))], scored, **stats),
        "per_case": _per_case(runs, keys, scored),
    }
    return Comparison(runs, keys, result)


def default_out_dir(paths: Sequence[str | Path]) -> Path:
    """Beside the reference run: <its parent>/compare-<run names joined by '-vs-'>."""
    names = [Path(p).resolve().name for p in paths]
    return Path(paths[0]).resolve().parent / ("compare-" + "-vs-".join(names))


def _signed(value: float) -> str:
    return "nan" if math.isnan(value) else f"{value:+.3f}"


def comparison_text(result: dict[str, Any]) -> str:
    """A plain-text table: each run's mean, then each difference with its interval, per dimension."""
    labels = result["labels"]
    level = round(result["method"]["level"] * 100)
    lines = [" | ".join(f"[{i}] {label}" for i, label in enumerate(labels)) + f"   (reference [0]; "
             f"{result['n_cases']} cases, {result['n_episodes']} matched episodes per run; dropped "
             + ", ".join(f"[{i}] {result['dropped'][label]}" for i, label in enumerate(labels)) + ")"]
    head = f"{'dimension':<20} {'cases':>5} " + " ".join(f"{f'[{i}]':>7}" for i in range(len(labels)))
    lines.append(head + "".join(f"  {f'[{i}]-[0]':>7} [{level}% CI]" for i in range(1, len(labels))))
    for dim, entry in {**result["dimensions"], **result["diagnostics"]}.items():
        diffs = entry["diff"] if isinstance(entry["diff"], list) else [entry["diff"]]
        cis = entry["ci"] if isinstance(entry["diff"], list) else [entry["ci"]]
        cases = result["cases_per_dimension"].get(dim, result["n_cases"])
        cells = " ".join(f"{m:>7.3f}" for m in entry["means"])
        deltas = "".join(f"  {_signed(d):>7} [{_signed(c[0])}, {_signed(c[1])}]" for d, c in zip(diffs, cis))
        lines.append(f"{dim:<20} {cases:>5} {cells}{deltas}")
    for dim, why in result["skipped_dimensions"].items():
        lines.append(f"{dim}: not compared ({why})")
    return "\n".join(lines)


def write_comparison(comparison: Comparison, out_dir: str | Path) -> Path:
    """Write compare.json and compare.html into `out_dir`; returns the HTML report's path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(out_dir / "compare.json", comparison.result)
    return write_comparison_report(comparison, out_dir)
