"""A run directory's life: create or resume it, run the episodes, judge, and write scores and report.

Layout: config.json, episodes.sqlite (the durable trajectory log and judge cache),
trajectories.jsonl (export of the log), judgments.json (when judged), scores.json / scores.csv /
episodes.csv / cases.csv, report.html, .lock. Everything after the episodes is recomputable from the log.
Everything a run needs (directory, options, suite, selection, model) is checked before anything is written,
and one process at a time writes to a run directory (see `rundir`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tooltune.bench.config import RunConfig, RunConfigError
from tooltune.bench.episode import EpisodeKey
from tooltune.bench.judge import LLMJudge, judge_case, judge_run, recheck
from tooltune.atomic import read_json_object, write_stream_atomic
from tooltune.bench.rundir import CONFIG_NAME, JUDGMENTS, RunLock, holds_nothing, read_judgments
from tooltune.bench.runner import Harness, Runner, keypoint_checks, run_cases, sandbox_harness
from tooltune.bench.scores import episode_row, summary_text, write_json, write_scores
from tooltune.bench.store import DB_NAME, RunStore, RunStoreError
from tooltune.bench.suites import load_suite
from tooltune.errors import RunFailure, UsageError, one_line
from tooltune.models.base import ChatModel, ModelError

if TYPE_CHECKING:
    from tooltune.sandbox.suite import Suite

TRAJECTORIES = "trajectories.jsonl"


class ModelLoadError(UsageError):
    """The agent or a judge model named by the options cannot be loaded."""


class RunFailedError(RunFailure):
    """The run wrote its outputs but did not succeed: every episode failed, or no judge gave a verdict."""


@dataclass
class RunResult:
    run_dir: Path
    counts: dict[str, int]
    summary: dict[str, Any]
    report: Path
    failures: dict[str, str]

    def problem(self) -> str | None:
        """Why the run counts as failed (every episode failed), else None."""
        if self.counts["failed"] and not self.counts["done"] and not self.counts["skipped"]:
            return f"all {self.counts['failed']} episodes failed; first error: {first_error(self.failures)}"
        return judge_problem(self.summary)

    def text(self) -> str:
        """What `bench run` prints: episode counts, the first failure if any, the scores, the report's path."""
        lines = [f"episodes: {self.counts}"]
        if self.counts["failed"]:
            lines.append(f"{self.counts['failed']} episodes failed (rerun with --resume to retry); "
                         f"first error: {first_error(self.failures)}")
        return "\n".join([*lines, summary_text(self.summary), f"report: {self.report.resolve()}"])

    def check(self) -> None:
        """Raise a `RunFailedError` when the run counts as failed (its outputs are written all the same)."""
        problem = self.problem()
        if problem:
            raise RunFailedError(problem)


def first_error(failures: dict[str, str]) -> str:
    """The last line of the first failed episode's traceback (what went wrong, in one line)."""
    lines = next(iter(failures.values()), "").strip().splitlines()
    return " ".join(lines[-1].split()) if lines else "unknown error"


def judge_problem(summary: dict[str, Any]) -> str | None:
    """Why judging failed (judges were asked but no episode got a verdict), else None."""
    failed = summary.get("judge_failures", 0)
    if summary.get("judged") and failed and failed == summary.get("episodes"):
        return (f"no judge gave a verdict for any of the {failed} episodes; first problem: {summary['judge_error']}; "
                "scores were written without the judge dimensions")
    return None


def check_run_dir(config: RunConfig, run_dir: Path, resume: bool, judged: bool = False, log: bool = True) -> None:
    """Refuse a run directory that cannot take this run (with `log`, its log and outputs too); reads only."""
    if run_dir.exists() and not run_dir.is_dir():
        raise RunStoreError(f"{run_dir} is a file, not a run directory")
    if (run_dir / CONFIG_NAME).exists():
        if not resume:
            raise RunStoreError(f"{run_dir} already holds a run; pass --resume to continue it or choose another --out")
        mismatch = config.mismatch(load_config(run_dir))
        if mismatch:
            raise RunConfigError(f"cannot resume {run_dir} with different options: {'; '.join(mismatch)}")
        if log and (run_dir / DB_NAME).exists():
            with RunStore(run_dir, create=False) as store:
                read_outputs(run_dir, store.done_ids(), judged)
    elif not holds_nothing(run_dir):
        raise RunStoreError(f"{run_dir} is not empty and holds no tooltune run (no {CONFIG_NAME}); "
                            "choose a new or empty directory")


def load_config(run_dir: str | Path) -> RunConfig:
    """The options a run directory was written with; a `RunStoreError` or `RunConfigError` names the file."""
    path = Path(run_dir) / CONFIG_NAME
    if not path.is_file():
        raise RunStoreError(f"{run_dir} is not a run directory (no {CONFIG_NAME})")
    data = read_json_object(path)
    if data is None:
        raise RunStoreError(f"{path}: unreadable (not a JSON object)")
    try:
        return RunConfig.from_dict(data)
    except RunConfigError as error:
        raise RunConfigError(f"{path}: {error}") from None


def load_agent(config: RunConfig) -> ChatModel:
    """The agent model of a run (`--model`, `--adapter`, `--dtype`)."""
    return _load(config.model, "--model", config.allow_insecure_key, adapter=config.adapter, dtype=config.dtype)


def load_judges(specs: Sequence[str], allow_insecure_key: bool = False) -> list[LLMJudge]:
    """One LLM judge per `--judge` spec."""
    return [LLMJudge(_load(spec, "--judge", allow_insecure_key), name=spec) for spec in specs]


def _load(spec: str, option: str, allow_insecure_key: bool, **options: Any) -> ChatModel:
    from tooltune.models.openai_http import url_credentials
    from tooltune.models.registry import OPENAI_PREFIX, load_model

    if spec.startswith(OPENAI_PREFIX):
        credentials = url_credentials(spec.removeprefix(OPENAI_PREFIX).rpartition("#")[0])
        if credentials:
            raise ModelLoadError(f"{option}: the URL carries credentials ({', '.join(credentials)}); "
                                 "give the key in $OPENAI_API_KEY instead")
        options["allow_insecure_key"] = allow_insecure_key
    try:
        return load_model(spec, **options)
    except (ModelError, OSError, ValueError) as error:
        raise ModelLoadError(f"{option} {spec}: {one_line(error)}") from None


def run_benchmark(config: RunConfig, run_dir: str | Path, *, resume: bool = False, model: ChatModel | None = None,
                  suite: Suite | None = None, harness: Harness | None = None, judges: Sequence[LLMJudge] = (),
                  progress: bool = True) -> RunResult:
    """Run (or finish) the episodes of `config` in `run_dir`, then judge and write scores and report."""
    run_dir = Path(run_dir)
    check_run_dir(config, run_dir, resume, log=False)  # before the lock file is created in it
    with RunLock(run_dir) as lock:
        own_model = model is None
        try:
            check_run_dir(config, run_dir, resume, judged=bool(judges))
            suite = suite if suite is not None else load_suite(config.suite)
            run_cases(suite, config)
            if model is None:
                model = load_agent(config)
        except BaseException:
            lock.discard()
            raise
        try:
            write_json(run_dir / CONFIG_NAME, config.to_dict())
            store = RunStore(run_dir)
        except BaseException:
            if own_model:
                model.close()
            raise
        try:
            try:
                counts = Runner(model, suite, config, store, harness, progress=progress).run()
            finally:
                if own_model:
                    model.close()
            summary, report = finish_run(run_dir, store, suite, judges=judges, progress=progress)
            failures = store.failures()
        finally:
            store.close()
    return RunResult(run_dir, counts, summary, report, failures)


def run_bench(config: RunConfig, run_dir: Path | None, *, resume: bool = False, judge_specs: Sequence[str] = (),
              progress: bool = True) -> RunResult:
    """`bench run`: load the judges named by `judge_specs`, then run in `run_dir` (default runs/bench-<time>)."""
    run_dir = run_dir or Path("runs") / time.strftime("bench-%Y%m%d-%H%M%S")
    judges = load_judges(judge_specs, config.allow_insecure_key)
    return run_benchmark(config, run_dir, resume=resume, judges=judges, progress=progress)


def read_outputs(run_dir: Path, logged: set[str], judged: bool) -> dict[str, Any] | None:
    """Check the outputs a re-score replaces; returns the saved verdicts (None when judging now or none saved).

    The trajectory export must hold no episode the log lacks, and saved verdicts must be readable.
    """
    check_export(run_dir / TRAJECTORIES, logged)
    path = run_dir / JUDGMENTS
    return read_judgments(path) if not judged and path.exists() else None


def finish_run(run_dir: Path, store: RunStore, suite: Suite | None, judges: Sequence[LLMJudge] = (),
               progress: bool = True) -> tuple[dict[str, Any], Path]:
    """Export the log, judge if asked, write scores and the HTML report (all read and checked before writing)."""
    from tooltune.bench.report import write_report

    config = load_config(run_dir)
    records = list(store.records())
    failed = len(store.failures())
    verdicts = read_outputs(run_dir, {r.key.id for r in records}, judged=bool(judges))
    if judges:
        cases = {c.id: c for c in suite.cases}
        missing = sorted({r.key.case_id for r in records} - set(cases))
        if missing:
            raise RunConfigError(f"suite {config.suite}: lacks cases of this run, e.g. {missing[0]!r}")
        verdicts = judge_run(records, lambda case_id: judge_case(cases[case_id]), judges, store, progress=progress)
    verdicts = verdicts or {}
    export_trajectories(run_dir / TRAJECTORIES, records)
    if judges:
        write_json(run_dir / JUDGMENTS, verdicts)
    rows = [episode_row(r, _usable(verdicts.get(r.key.id))) for r in records]
    summary = write_scores(run_dir, rows)
    summary["failed_episodes"] = failed
    summary.update(judge_failures(records, verdicts, judged=bool(judges)))
    report = write_report(run_dir, config, summary, rows, records, verdicts)
    return summary, report


def judge_failures(records: Sequence[Any], verdicts: dict[str, Any], judged: bool) -> dict[str, Any]:
    """How many episodes have a failed verdict, and the first problem (summary fields)."""
    problems = [verdicts[r.key.id] for r in records if "error" in verdicts.get(r.key.id, {})]
    first = problems[0] if problems else {}
    detail = (first.get("failures") or [first.get("error", "")])[0] if first else ""
    return {"judged": judged, "judge_failures": len(problems), "judge_error": " ".join(str(detail).split())[:300]}


def _usable(verdict: dict[str, Any] | None) -> dict[str, Any] | None:
    return verdict if verdict and "error" not in verdict else None


def check_export(path: Path, logged: set[str]) -> None:
    """Refuse to replace a trajectory export that holds episodes the log lacks (their only copy)."""
    if not path.exists():
        return
    try:
        lines = path.read_bytes().decode("utf-8", errors="replace").splitlines()
    except OSError as error:
        raise RunStoreError(f"{path}: unreadable ({error})") from None
    exported = set()
    for line in lines:
        try:
            exported.add(EpisodeKey(**json.loads(line)["key"]).id)
        except (ValueError, TypeError, KeyError):
            continue  # a half-written or foreign line holds no episode
    lost = sorted(exported - logged)
    if lost:
        raise RunStoreError(f"{path} holds {len(lost)} episodes that {DB_NAME} lacks (e.g. {lost[0]}); refusing to "
                            f"overwrite it: restore {DB_NAME} or move {path.name} away")


def export_trajectories(path: Path, records: Sequence[Any]) -> None:
    """All finished episodes as JSON lines (written to a temporary file, then renamed)."""
    def write(handle: Any) -> None:
        for record in records:
            handle.write(json.dumps(record.to_dict(), ensure_ascii=False, default=str) + "\n")

    write_stream_atomic(path, write)


def rescore_run(run_dir: str | Path, *, judges: Sequence[LLMJudge] = (), replay: bool = False, suite: Suite | None = None,
                harness: Harness | None = None, progress: bool = True) -> tuple[dict[str, Any], Path]:
    """Re-score a saved run without the agent model: optionally replay checks, judge, rewrite outputs."""
    run_dir = Path(run_dir)
    config = load_config(run_dir)
    if not (run_dir / DB_NAME).is_file():
        raise RunStoreError(f"{run_dir / DB_NAME} is missing: {run_dir} holds no episode log to re-score")
    with RunLock(run_dir):
        store = RunStore(run_dir, create=False)
        try:
            if replay or judges:
                suite = suite if suite is not None else load_suite(config.suite)
            if replay:
                read_outputs(run_dir, store.done_ids(), judged=bool(judges))  # before the log changes
                _replay(store, suite, harness or sandbox_harness(suite))
            return finish_run(run_dir, store, suite, judges=judges, progress=progress)
        finally:
            store.close()


def _replay(store: RunStore, suite: Suite, harness: Harness) -> None:
    """Recompute every episode's deterministic checks by replaying its calls on a fresh world."""
    if harness.check is None:
        raise ValueError("replay: the harness has no checker")
    cases = {c.id: c for c in suite.cases}
    records = list(store.records())
    missing = sorted({r.key.case_id for r in records} - set(cases))
    if missing:
        raise RunConfigError(f"replay: the suite lacks cases of this run, e.g. {missing[0]!r}")
    for record in records:
        case = cases[record.key.case_id]
        results, mismatched = recheck(record, case, harness.open_world, harness.check)
        record.checks = keypoint_checks(case, results)
        record.notes = [n for n in record.notes if not n.startswith("replay:")]
        if mismatched:
            record.notes.append(f"replay: responses differ from the log for calls {mismatched}")
        store.write_episode(record)
