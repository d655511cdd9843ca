"""A run directory's life: create or resume it, run the episodes, judge, and write scores and report.

Layout: config.json, episodes.sqlite (the durable trajectory log and judge cache),
trajectories.jsonl (export of the log), judgments.json (when judged), scores.json / scores.csv /
episodes.csv / cases.csv, report.html. Everything after the episodes is recomputable from the log.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tooltune.bench.config import RunConfig, RunConfigError
from tooltune.bench.judge import LLMJudge, judge_case, judge_run, recheck
from tooltune.bench.runner import Harness, Runner, keypoint_checks, sandbox_harness
from tooltune.bench.scores import episode_row, write_json, write_scores
from tooltune.bench.store import RunStore, RunStoreError
from tooltune.bench.suites import load_suite
from tooltune.models.base import ChatModel

CONFIG_NAME = "config.json"


@dataclass
class RunResult:
    run_dir: Path
    counts: dict[str, int]
    summary: dict[str, Any]
    report: Path
    failures: dict[str, str]


def open_run(config: RunConfig, run_dir: str | Path, resume: bool) -> RunStore:
    """The store of a new run, or of an existing one when resuming with the same episode definition."""
    run_dir = Path(run_dir)
    saved = run_dir / CONFIG_NAME
    if saved.exists():
        if not resume:
            raise RunStoreError(f"{run_dir} already holds a run; pass --resume to continue it or choose another --out")
        mismatch = config.mismatch(RunConfig.from_dict(json.loads(saved.read_text())))
        if mismatch:
            raise RunConfigError(f"cannot resume {run_dir} with different options: {'; '.join(mismatch)}")
    elif resume and run_dir.exists() and any(run_dir.iterdir()):
        raise RunStoreError(f"{run_dir} has no {CONFIG_NAME}; it is not a tooltune run directory")
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json(saved, config.to_dict())
    return RunStore(run_dir)


def load_config(run_dir: str | Path) -> RunConfig:
    path = Path(run_dir) / CONFIG_NAME
    if not path.exists():
        raise RunStoreError(f"{run_dir} is not a run directory (no {CONFIG_NAME})")
    return RunConfig.from_dict(json.loads(path.read_text()))


def run_benchmark(config: RunConfig, run_dir: str | Path, *, resume: bool = False, model: ChatModel | None = None,
                  suite: Any = None, harness: Harness | None = None, judges: Sequence[LLMJudge] = (),
                  progress: bool = True) -> RunResult:
    """Run (or finish) the episodes of `config` in `run_dir`, then judge and write scores and report."""
    store = open_run(config, run_dir, resume)
    suite = suite if suite is not None else load_suite(config.suite)
    own_model = model is None
    if model is None:
        from tooltune.models.registry import load_model

        model = load_model(config.model, adapter=config.adapter, dtype=config.dtype)
    try:
        runner = Runner(model, suite, config, store, harness, progress=progress)
        counts = runner.run()
    finally:
        if own_model:
            model.close()
    summary, report = finish_run(Path(run_dir), store, suite, judges=judges, progress=progress)
    failures = store.failures()
    store.close()
    return RunResult(Path(run_dir), counts, summary, report, failures)


def finish_run(run_dir: Path, store: RunStore, suite: Any, judges: Sequence[LLMJudge] = (),
               verdicts: dict[str, Any] | None = None, progress: bool = True) -> tuple[dict[str, Any], Path]:
    """Export the log, judge if asked, write scores and the HTML report."""
    from tooltune.bench.report import write_report

    records = list(store.records())
    export_trajectories(run_dir / "trajectories.jsonl", records)
    judgments = run_dir / "judgments.json"
    if judges:
        cases = {c.id: c for c in suite.cases}
        verdicts = judge_run(records, lambda case_id: judge_case(cases[case_id]), judges, store, progress=progress)
        write_json(judgments, verdicts)
    elif verdicts is None and judgments.exists():
        verdicts = json.loads(judgments.read_text())
    verdicts = verdicts or {}
    rows = [episode_row(r, _usable(verdicts.get(r.key.id))) for r in records]
    summary = write_scores(run_dir, rows)
    summary["failed_episodes"] = len(store.failures())
    report = write_report(run_dir, load_config(run_dir), summary, rows, records, verdicts)
    return summary, report


def _usable(verdict: dict[str, Any] | None) -> dict[str, Any] | None:
    return verdict if verdict and "error" not in verdict else None


def export_trajectories(path: Path, records: Sequence[Any]) -> None:
    """All finished episodes as JSON lines (written to a temporary file, then renamed)."""
    tmp = path.with_suffix(".jsonl.tmp")
    with tmp.open("w") as handle:
        for record in records:
            handle.write(json.dumps(record.to_dict(), ensure_ascii=False, default=str) + "\n")
    tmp.replace(path)


def rescore_run(run_dir: str | Path, *, judges: Sequence[LLMJudge] = (), replay: bool = False, suite: Any = None,
                harness: Harness | None = None, progress: bool = True) -> tuple[dict[str, Any], Path]:
    """Re-score a saved run without the agent model: optionally replay checks, judge, rewrite outputs."""
    run_dir = Path(run_dir)
    config = load_config(run_dir)
    store = RunStore(run_dir)
    try:
        if replay or judges:
            suite = suite if suite is not None else load_suite(config.suite)
        if replay:
            harness = harness or sandbox_harness(suite)
            if harness.check is None:
                raise ValueError("replay: the harness has no checker")
            cases = {c.id: c for c in suite.cases}
            for record in store.records():
                case = cases[record.key.case_id]
                results, mismatched = recheck(record, case, harness.open_world, harness.check)
                record.checks = keypoint_checks(case, results)
                record.notes = [n for n in record.notes if not n.startswith("replay:")]
                if mismatched:
                    record.notes.append(f"replay: responses differ from the log for calls {mismatched}")
                store.write_episode(record)
        return finish_run(run_dir, store, suite, judges=judges, progress=progress)
    finally:
        store.close()
