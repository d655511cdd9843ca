"""Scores of a run: per episode, per case (mean over trials), and aggregates with standard errors.

Deterministic dimensions come from the checkable key points (reproducible, no judge model needed);
judge dimensions (0-5, as in ETAPP) come from the LLM judge when one was run. `success` (every
checkable key point passed) feeds pass^k over trials. `well_formed_rate` is the share of attempted tool calls
that parsed and were valid calls of an offered tool (what constrained decoding guarantees).
"""

from __future__ import annotations

import csv
import json
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, Any

from tooltune.bench.episode import EpisodeRecord
from tooltune.atomic import write_stream_atomic, write_text_atomic
from tooltune.bench.stats import mean_se, pass_hat_k_curve

CHECK_DIMENSIONS = ("checks", "checks_personal", "checks_proactive", "success")
JUDGE_DIMENSIONS = ("procedure", "personalization", "proactivity")
DIAGNOSTICS = ("turns", "tool_calls", "tool_errors", "malformed", "well_formed_rate")
# Refusals of a call itself (not of what it asked for): it named no offered tool or broke its schema.
INVALID_CALL_ERRORS = frozenset({"unknown_tool", "tool_not_available", "invalid_call", "invalid_arguments",
                                 "invalid_json"})
DIMENSIONS = CHECK_DIMENSIONS + JUDGE_DIMENSIONS + DIAGNOSTICS


def _rate(checks: Sequence[dict[str, Any]]) -> float | None:
    decided = [c["passed"] for c in checks if c.get("passed") is not None]
    return sum(bool(p) for p in decided) / len(decided) if decided else None


def well_formed_rate(calls: Sequence[dict[str, Any]], malformed: Sequence[Any]) -> float | None:
    """Calls parsed and valid / calls attempted (valid + invalid + unparseable); None with no attempt."""
    invalid = sum(_error_type(c.get("response")) in INVALID_CALL_ERRORS for c in calls)
    attempted = len(calls) + len(malformed)
    return (len(calls) - invalid) / attempted if attempted else None


def _error_type(response: Any) -> str | None:
    error = response.get("error") if isinstance(response, dict) else None
    return error.get("type") if isinstance(error, dict) else None


def episode_row(record: EpisodeRecord, verdict: dict[str, Any] | None = None) -> dict[str, Any]:
    """One flat row of scores for an episode; None where a dimension does not apply."""
    checks = record.checks
    decided = [c for c in checks if c.get("passed") is not None]
    row: dict[str, Any] = {
        "episode": record.key.id, "case_id": record.key.case_id, "user": record.user_id,
        "apps": "+".join(record.apps), "strategy": record.key.strategy, "setting": record.key.setting,
        "trial": record.key.trial, "finish_reason": record.finish_reason,
        "checks": _rate(checks),
        "checks_personal": _rate([c for c in checks if c.get("kind") == "personal"]),
        "checks_proactive": _rate([c for c in checks if c.get("kind") == "proactive"]),
        "success": (float(all(c["passed"] for c in decided)) if decided else None),
        "turns": float(record.turns), "tool_calls": float(len(record.calls)),
        "tool_errors": float(sum("error" in c["response"] for c in record.calls)),
        "malformed": float(len(record.malformed)),
        "well_formed_rate": well_formed_rate(record.calls, record.malformed),
        "unjudged_keypoints": sum(c.get("passed") is None for c in checks) if verdict is None else 0,
    }
    for dim in JUDGE_DIMENSIONS:
        row[dim] = None if verdict is None else verdict.get(dim)
    return row


def _group(row: dict[str, Any]) -> str:
    return f"{row['strategy']}/{row['setting']}"


def case_rows(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (strategy/setting, case): each dimension averaged over trials, plus the trial outcomes."""
    buckets: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        buckets[(_group(row), row["case_id"])].append(row)
    out = []
    for (group, case_id), items in sorted(buckets.items()):
        first = items[0]
        case: dict[str, Any] = {"group": group, "case_id": case_id, "user": first["user"], "apps": first["apps"],
                                "trials": len(items)}
        for dim in DIMENSIONS:
            values = [r[dim] for r in items if r[dim] is not None]
            case[dim] = sum(values) / len(values) if values else None
        outcomes = [r["success"] for r in items]
        case["outcomes"] = None if any(o is None for o in outcomes) else [bool(o) for o in outcomes]
        out.append(case)
    return out


def _summarise(cases: Sequence[dict[str, Any]]) -> dict[str, Any]:
    summary: dict[str, Any] = {"cases": len(cases)}
    for dim in DIMENSIONS:
        mean, se, n = mean_se([c[dim] for c in cases if c[dim] is not None])
        summary[dim] = None if n == 0 else {"mean": mean, "se": se, "n": n}
    outcomes = [c["outcomes"] for c in cases if c["outcomes"]]
    summary["pass_hat_k"] = {str(k): v for k, v in pass_hat_k_curve(outcomes).items()}
    return summary


def aggregate(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Overall and per-app / per-user summaries for each strategy/setting."""
    cases = case_rows(rows)
    result: dict[str, Any] = {"groups": {}, "episodes": len(rows),
                              "unjudged_keypoints": sum(r["unjudged_keypoints"] for r in rows)}
    for group in sorted({c["group"] for c in cases}):
        mine = [c for c in cases if c["group"] == group]
        apps = sorted({a for c in mine for a in c["apps"].split("+") if a})
        users = sorted({c["user"] for c in mine})
        result["groups"][group] = {
            "overall": _summarise(mine),
            "by_app": {a: _summarise([c for c in mine if a in c["apps"].split("+")]) for a in apps},
            "by_user": {u: _summarise([c for c in mine if c["user"] == u]) for u in users},
        }
    return result


def _csv_value(value: Any) -> Any:
    if isinstance(value, float):
        return "" if math.isnan(value) else round(value, 6)
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return value


def write_table(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    """A CSV of flat rows (columns from the first row), written atomically."""
    def write(handle: IO[str]) -> None:
        if rows:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows({k: _csv_value(v) for k, v in row.items()} for row in rows)

    write_stream_atomic(path, write, newline="")


def write_json(path: Path, data: Any) -> None:
    """JSON written to a temporary file then renamed, so a reader never sees half a file."""
    write_text_atomic(path, json.dumps(data, indent=2, ensure_ascii=False, default=str))


def dimension_table(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """Long-format rows (group, scope, name, dimension, mean, se, n) for scores.csv."""
    out = []
    for group, parts in summary["groups"].items():
        scopes = [("overall", "all", parts["overall"])]
        scopes += [("app", a, s) for a, s in parts["by_app"].items()]
        scopes += [("user", u, s) for u, s in parts["by_user"].items()]
        for scope, name, stats in scopes:
            for dim in DIMENSIONS:
                if stats.get(dim):
                    out.append({"group": group, "scope": scope, "name": name, "dimension": dim,
                                "mean": stats[dim]["mean"], "se": stats[dim]["se"], "n": stats[dim]["n"]})
            for k, value in stats["pass_hat_k"].items():
                out.append({"group": group, "scope": scope, "name": name, "dimension": f"pass^{k}",
                            "mean": value, "se": None, "n": stats["cases"]})
    return out


def write_scores(run_dir: Path, rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """scores.json (summary + per case), scores.csv (long format), episodes.csv, cases.csv."""
    summary = aggregate(rows)
    cases = case_rows(rows)
    write_json(run_dir / "scores.json", {"summary": summary, "cases": cases})
    write_table(run_dir / "scores.csv", dimension_table(summary))
    write_table(run_dir / "episodes.csv", list(rows))
    write_table(run_dir / "cases.csv", cases)
    return summary


def summary_text(summary: dict[str, Any]) -> str:
    """A plain-text table of the overall scores per strategy/setting (for the terminal)."""
    dims = [d for d in CHECK_DIMENSIONS + JUDGE_DIMENSIONS + ("turns", "tool_errors", "malformed", "well_formed_rate")
            if any(g["overall"].get(d) for g in summary["groups"].values())]
    lines = [f"{'strategy/setting':<18} {'cases':>5} " + " ".join(f"{d:>16}" for d in dims) + "  pass^k"]
    for group, parts in summary["groups"].items():
        overall = parts["overall"]
        cells = []
        for d in dims:
            stat = overall.get(d)
            cells.append(f"{stat['mean']:>8.3f} ±{stat['se']:>6.3f}" if stat else f"{'-':>16}")
        passk = " ".join(f"{k}:{v:.2f}" for k, v in overall["pass_hat_k"].items())
        lines.append(f"{group:<18} {overall['cases']:>5} " + " ".join(cells) + f"  {passk}")
    if summary.get("judge_failures"):
        lines.append(f"{summary['judge_failures']} episodes got no judge verdict; first problem: "
                     f"{summary.get('judge_error', '')}")
    if summary.get("unjudged_keypoints"):
        reason = "no judge verdict" if summary.get("judge_failures") else "no judge configured"
        lines.append(f"{summary['unjudged_keypoints']} free-text key-point results unjudged ({reason})")
    return "\n".join(lines)
