"""Continual learning over a task sequence: DATA (dual-rank adapters) and the SeqLoRA, O-LoRA and multitask
baselines, all run by the same loop on the shared trainer.

After each task every task's held-out set is scored, filling the accuracy matrix a[i][j]; the summary
numbers come from `continual_metrics`. Inference never gets a task id: DATA's router weighs its adapters
from the input, O-LoRA sums all task LoRAs, SeqLoRA and multitask have one LoRA.
"""

from __future__ import annotations

import dataclasses
import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn
from transformers import TrainerCallback

from tooltune.adapters import save_adapter
from tooltune.atomic import read_json_lines, write_json_atomic, write_text_atomic
from tooltune.methods.continual.config import ContinualConfig, ContinualError, ContinualTask
from tooltune.methods.continual.method import METHODS, ContinualMethod, method_for
from tooltune.methods.continual.metrics import ContinualMetrics, continual_metrics, format_matrix
from tooltune.methods.continual.scoring import Scorer, teacher_forced_scorer, tool_call_scorer
from tooltune.models.registry import TrainableLoader
from tooltune.train.data import Example, load_sft_jsonl, sample_examples, split_examples, up_to_first_call
from tooltune.train.settings import (
    SETTINGS_FILE,
    RunDirError,
    begin_run,
    check_run_dir,
    examples_digest,
    normalized,
    read_settings,
)
from tooltune.train.trainer import Stage, train_stages




@dataclass
class ContinualResult:
    """The accuracy matrix of one method (rows: after each stage; multitask has one row) and its metrics."""

    method: str
    tasks: list[str]
    matrix: list[list[float]]
    metrics: ContinualMetrics
    single_task: list[float] | None = None
    restorations: int = 0
    stages: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"method": self.method, "tasks": self.tasks, "matrix": self.matrix, "metrics": self.metrics.as_dict(),
                "single_task": self.single_task, "restorations": self.restorations, "stages": self.stages}


@dataclass(frozen=True)
class Progress:
    """One step of a run, for a progress display: `event` is "train" (a stage starts training), "score"
    (scoring starts), "scored" (a stage's row is done: `scores`), or "single" (a single-task reference starts)."""

    event: str
    method: str
    stage: str
    examples: int = 0
    scores: tuple[float, ...] = ()


ProgressCallback = Callable[[Progress], None]


def _score_row(model: nn.Module, tokenizer: Any, tasks: Sequence[ContinualTask], scorer: Scorer) -> list[float]:
    model.eval()
    return [float(scorer(model, tokenizer, task.test)) for task in tasks]


def _stage(name: str, examples: list[Example], trainable: set[str], callbacks: list[TrainerCallback]) -> Stage:
    return Stage(name=name, examples=examples, trainable=trainable, callbacks=callbacks)


def _cached_rows(path: Path, count: int) -> dict[str, list[float]]:
    """Score rows (of `count` tasks) already written by an earlier (interrupted) run, by stage name; a damaged
    row is left out, so its stage is scored again."""
    rows = {}
    for row in read_json_lines(path):
        stage, scores = row.get("stage"), row.get("scores")
        if isinstance(stage, str) and isinstance(scores, list) and len(scores) == count \
                and all(isinstance(s, (int, float)) and not isinstance(s, bool) for s in scores):
            rows[stage] = [float(s) for s in scores]
    return rows


def _save_rows(path: Path, rows: dict[str, list[float]]) -> None:
    write_text_atomic(path, "".join(json.dumps({"stage": s, "scores": r}) + "\n" for s, r in rows.items()))


def training_key(config: ContinualConfig, tasks: Sequence[ContinualTask]) -> dict[str, Any]:
    """What a method's trained stages depend on: every setting but where they go, and the tasks' data."""
    key = config.key()
    for name in ("output_dir", "single_task"):
        key.pop(name)
    return {**key,
            "tasks": [{"name": t.name, "train": examples_digest(t.train), "test": examples_digest(t.test)}
                      for t in tasks]}


def _run_dirs(config: ContinualConfig, tasks: Sequence[ContinualTask]) -> list[tuple[Path, ContinualConfig,
                                                                                      list[ContinualTask]]]:
    """(method directory, config, tasks) of the sequence and of its single-task references."""
    runs = [(Path(config.output_dir) / config.method, config, list(tasks))]
    if config.single_task:
        for task in tasks:
            alone = _single_config(config, task)
            runs.append((Path(alone.output_dir) / config.method, alone, [task]))
    return runs


def _single_config(config: ContinualConfig, task: ContinualTask) -> ContinualConfig:
    return config.model_copy(update={"output_dir": str(Path(config.output_dir) / "single" / task.name),
                                     "single_task": False})


def _method_settings(directory: Path, config: ContinualConfig, tasks: Sequence[ContinualTask], scorer_name: str,
                     scorer_settings: dict[str, Any] | None, overwrite: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    """(settings to compare with the saved ones, settings to save): the training key plus the settings of every
    scorer whose rows the directory keeps. A scorer new to the directory changes nothing; it is added."""
    try:
        previous = None if overwrite else read_settings(directory / SETTINGS_FILE)
    except RunDirError:
        previous = None  # check_run_dir refuses it where stages or scores would be lost
    scorers = previous.get("scorers") if previous else None
    scorers = dict(scorers) if isinstance(scorers, dict) else {}
    mine = normalized(dict(scorer_settings or {}))
    compare = {"training": training_key(config, tasks), "scorers": {**scorers}}
    if scorer_name in scorers:
        compare["scorers"][scorer_name] = mine
    return compare, {**compare, "scorers": {**compare["scorers"], scorer_name: mine}}


def check_continual_dirs(config: ContinualConfig, tasks: Sequence[ContinualTask], scorer_name: str = "score",
                         scorer_settings: dict[str, Any] | None = None, overwrite: bool = False) -> None:
    """Refuse (RunDirError naming the fields) directories holding stages or scores of other settings, for the
    sequence and its single-task references, before anything is trained. Writes nothing."""
    config = with_default_adapter(config)
    _check_tasks(tasks)
    for directory, run_config, run_tasks in _run_dirs(config, tasks):
        compare, _ = _method_settings(directory, run_config, run_tasks, scorer_name, scorer_settings, overwrite)
        check_run_dir(directory, compare, overwrite=overwrite)


def _check_tasks(tasks: Sequence[ContinualTask]) -> None:
    if not tasks:
        raise ContinualError("tasks: give at least one task")
    names = [t.name for t in tasks]
    if len(set(names)) != len(names):
        raise ContinualError(f"tasks: names must be unique, got {names}")


def with_default_adapter(config: ContinualConfig) -> ContinualConfig:
    """`config` with its method's default adapter filled in and any adapter seed set to `train.seed` (so that
    every random initialisation comes from the one seed, and the saved settings say what ran)."""
    adapter = config.adapter or METHODS[config.method].default_adapter()
    if hasattr(adapter, "seed"):
        adapter = dataclasses.replace(adapter, seed=config.train.seed)
    return config.model_copy(update={"adapter": adapter})


def _plan(config: ContinualConfig, tasks: Sequence[ContinualTask]) -> list[tuple[str, list[Example]]]:
    """(stage name, examples) per stage: one per task, or one on the shuffled union for a one-stage method."""
    if not METHODS[config.method].one_stage:
        return [(t.name, t.train) for t in tasks]
    union = [ex for t in tasks for ex in t.train]
    random.Random(config.train.seed).shuffle(union)
    return [("all", union)]


def run_sequence(load: TrainableLoader, tasks: Sequence[ContinualTask], config: ContinualConfig,
                 scorer: Scorer, progress: ProgressCallback | None = None,
                 scorer_name: str = "score", scorer_settings: dict[str, Any] | None = None,
                 overwrite: bool = False) -> ContinualResult:
    """Train `config.method` over `tasks` in order from a fresh base model, scoring every task after each.

    Finished stages and their score rows (per `scorer_name`) are cached under `output_dir/method`, keyed by
    the settings and data (`settings.json`, with `scorer_settings` per scorer): a rerun with the same ones
    resumes where it stopped, a rerun with another scorer replays the trained stages and only scores again,
    a rerun with other settings is refused (RunDirError) unless `overwrite` removes the old stages first.
    """
    config = with_default_adapter(config)
    check_continual_dirs(config, tasks, scorer_name, scorer_settings, overwrite)
    out = Path(config.output_dir) / config.method
    compare, current = _method_settings(out, config, tasks, scorer_name, scorer_settings, overwrite)
    plan = _plan(config, tasks)
    model, tokenizer = load()
    method = method_for(config)
    method.attach(model, len(plan))  # adapter settings are checked here, before anything is written
    begin_run(out, compare, overwrite=overwrite)
    if current != compare:  # a scorer new to the directory: its settings join the saved ones
        write_json_atomic(out / SETTINGS_FILE, current)
    say = progress or (lambda _event: None)
    matrix, stages = _train_and_score(model, tokenizer, method, plan, tasks, scorer,
                                      out / f"scores-{scorer_name}.jsonl", say)
    names = [t.name for t in tasks]
    save_adapter(model, out / "adapter", metadata={"method": config.method, "tasks": names})
    single = _single_task_scores(load, tasks, config, scorer, say, scorer_name, scorer_settings,
                                 overwrite) if config.single_task else None
    if method.one_stage:
        metrics = ContinualMetrics(ap=sum(matrix[0]) / len(matrix[0]), f_ra=None, bwt=None, fwt=None)
    else:
        metrics = continual_metrics(matrix, single)
    return ContinualResult(config.method, names, matrix, metrics, single, method.restorations, stages)


def _train_and_score(model: nn.Module, tokenizer: Any, method: ContinualMethod, plan: list[tuple[str, list[Example]]],
                     tasks: Sequence[ContinualTask], scorer: Scorer, scores_path: Path,
                     say: ProgressCallback) -> tuple[list[list[float]], list[dict]]:
    """Train each stage of `plan` (finished ones are skipped) and score every task after it (cached rows reused)."""
    config = method.config
    cached = _cached_rows(scores_path, len(tasks))
    matrix, stages = [], []
    for index, (stage_name, examples) in enumerate(plan):
        trainable, callbacks = method.start_task(index)
        say(Progress("train", config.method, stage_name, len(examples)))
        result = train_stages(model, tokenizer, [_stage(stage_name, examples, trainable, callbacks)],
                              config.stage_training(scores_path.parent / f"{index:02d}-{stage_name}"))[0]
        stages.append({"stage": stage_name, "global_step": result.global_step, "train_loss": result.train_loss,
                       "trainable_parameters": result.trainable_parameters})
        if stage_name in cached and result.skipped:
            row = cached[stage_name]
        else:
            say(Progress("score", config.method, stage_name))
            row = _score_row(model, tokenizer, tasks, scorer)
            cached[stage_name] = row
            _save_rows(scores_path, cached)
        matrix.append(row)
        say(Progress("scored", config.method, stage_name, scores=tuple(row)))
    return matrix, stages


def _single_task_scores(load: TrainableLoader, tasks: Sequence[ContinualTask],
                        config: ContinualConfig, scorer: Scorer, say: ProgressCallback,
                        scorer_name: str, scorer_settings: dict[str, Any] | None, overwrite: bool) -> list[float]:
    """Score of each task trained alone from the base with the same method (the FWT reference)."""
    scores = []
    for task in tasks:
        say(Progress("single", config.method, task.name, len(task.train)))
        result = run_sequence(load, [task], _single_config(config, task), scorer,
                              scorer_name=scorer_name, scorer_settings=scorer_settings, overwrite=overwrite)
        scores.append(result.matrix[0][0])
    return scores


def load_task_files(paths: Sequence[str | Path], test_size: int, seed: int = 0, max_train: int | None = None,
                    test_paths: Sequence[str | Path] | None = None, first_call_only: bool = False) -> list[ContinualTask]:
    """One task per SFT JSONL file, named by the file stem.

    Held-out examples come from `test_paths` (one file per task, e.g. the sandbox's user-held-out split) or,
    without them, `test_size` examples of each file are held out. `first_call_only` keeps each conversation
    up to its first tool call, so every example asks for exactly one tool-calling turn.
    """
    if test_paths is not None and len(test_paths) != len(paths):
        raise ContinualError(f"test_paths: {len(test_paths)} files for {len(paths)} tasks")
    tasks = []
    for index, path in enumerate(paths):
        examples = load_sft_jsonl(path)
        if test_paths is not None:
            train, test = examples, sample_examples(load_sft_jsonl(test_paths[index]), test_size, seed)
        elif len(examples) < 2:
            raise ContinualError(f"{path}: {len(examples)} example, nothing left to train on after holding out test "
                                 "examples (give held-out files or more examples)")
        elif test_size >= len(examples):
            raise ContinualError(f"test_size: {path} has {len(examples)} examples, so holding out {test_size} leaves "
                                 "none to train on")
        else:
            train, test = split_examples(examples, test_size, seed)
        train = sample_examples(train, max_train, seed)
        if first_call_only:
            train, test = [up_to_first_call(e) for e in train], [up_to_first_call(e) for e in test]
        tasks.append(ContinualTask(Path(path).stem, train, test))
    return tasks


def format_results(results: Sequence[ContinualResult]) -> str:
    """Each method's accuracy matrix, then one summary table (AP, F.Ra, BWT, FWT) across methods."""
    blocks = []
    for r in results:
        labels = ["after all"] if METHODS[r.method].one_stage else [f"after {n}" for n in r.tasks]
        blocks.append(f"== {r.method} ==\n" + format_matrix(r.matrix, labels, r.tasks))

    def cell(value: float | None) -> str:
        return "n/a" if value is None else f"{value:+.3f}" if value < 0 else f"{value:.3f}"

    lines = ["| method | AP | F.Ra | BWT | FWT |", "|---|---|---|---|---|"]
    for r in results:
        m = r.metrics
        lines.append(f"| {r.method} | {cell(m.ap)} | {cell(m.f_ra)} | {cell(m.bwt)} | {cell(m.fwt)} |")
    return "\n\n".join(blocks + ["\n".join(lines)])


SCORERS = ("auto", "tool-call", "greedy", "token")


def choose_scorer(kind: str, tasks: Sequence[ContinualTask], max_length: int,
                  max_new_tokens: int, bf16: bool = False) -> tuple[str, Scorer, dict[str, Any]]:
    """(name, scorer, its settings) for `kind`; `auto` is tool-call when every task's held-out data calls tools.
    `bf16` scores the teacher-forced kinds under bf16 autocast (a setting of their cached rows)."""
    if kind not in SCORERS:
        raise ContinualError(f"scorer: expected one of {SCORERS}, got {kind!r}")
    if kind == "auto":
        calls = all(any(m.get("tool_calls") for ex in t.test for m in ex["messages"]) for t in tasks)
        kind = "tool-call" if calls else "greedy"
    if kind == "tool-call":
        return kind, tool_call_scorer(max_new_tokens=max_new_tokens), {"max_new_tokens": max_new_tokens}
    settings = {"max_length": max_length, **({"bf16": True} if bf16 else {})}
    return kind, teacher_forced_scorer(kind, max_length, bf16=bf16), settings


@dataclass
class ContinualRun:
    """One `train continual` request: the task sequence, one config per method, and how to score."""

    tasks: list[ContinualTask]
    configs: list[ContinualConfig]
    scorer: str = "auto"
    max_new_tokens: int = 96
    overwrite: bool = False


def run_continual(load: TrainableLoader, run: ContinualRun,
                  progress: ProgressCallback | None = None) -> tuple[str, list[ContinualResult]]:
    """(scorer name, one result per method): every directory is checked before any method trains, and every
    method (and single-task reference) starts from the untouched base."""
    max_length = run.configs[0].train.max_length
    name, scorer, settings = choose_scorer(run.scorer, run.tasks, max_length, run.max_new_tokens,
                                           bf16=run.configs[0].train.bf16)
    for config in run.configs:
        check_continual_dirs(config, run.tasks, name, settings, run.overwrite)
    return name, [run_sequence(load, run.tasks, config, scorer, progress, scorer_name=name, scorer_settings=settings,
                               overwrite=run.overwrite) for config in run.configs]


def describe_tasks(tasks: Sequence[ContinualTask]) -> str:
    """The task order, train/test counts and the first training example of each task as its turns (a dry run)."""
    lines = [f"tasks in order: {' -> '.join(t.name for t in tasks)}"]
    for index, task in enumerate(tasks):
        lines.append(f"\n[{index}] {task.name}: train {len(task.train)}, test {len(task.test)}")
        lines += [f"  {m['role']}: {m.get('content') or json.dumps(m.get('tool_calls'))}"
                  for m in task.train[0]["messages"]]
    return "\n".join(lines)
