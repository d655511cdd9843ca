"""The SKIntern experiment on a generated task: knowledge + few-shot prompting vs standard CoT distillation
vs progressive internalization, each with accuracy, inference prompt tokens and FLOPs; and `run_internalize`,
the one entry point of `tooltune train internalize`."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from statistics import mean
from typing import Any

from tooltune.methods.internalize.compress import compressor_path, make_compressor
from tooltune.methods.internalize.config import (
    CurriculumConfig,
    InternalizeConfig,
    ProfileConfig,
)
from tooltune.methods.internalize.curriculum import (
    TaughtSet,
    knowledge_prompts,
    neighbours,
    question_prompts,
    skintern_stages,
    std_cot_dataset,
)
from tooltune.methods.internalize.errors import InternalizeError, InternalizeFailure
from tooltune.methods.internalize.evaluate import answer_all, score_answers
from tooltune.methods.internalize.method import (
    begin_experiment,
    check_experiment_dir,
    student_loader,
    train_baseline,
    train_staged,
)
from tooltune.methods.internalize.metrics import (
    ApproachResult,
    count_parameters,
    format_table,
)
from tooltune.methods.internalize.progress import Event, Progress, print_messages
from tooltune.methods.internalize.retrieve import check_retriever, make_retriever
from tooltune.methods.internalize.tasks import DEFAULT_RULES, TaskItem, split_problems
from tooltune.methods.internalize.teacher import make_teacher, teach_all
from tooltune.models.registry import TrainableLoader

APPROACHES = ("knowledge+few-shot prompting", "question only (no training)", "SKIntern internalized",
              "Std-CoT distillation")


@dataclass
class Lessons:
    """What the teacher and the retriever prepared: the taught training set, few-shot neighbours of every
    question and the knowledge of the held-out questions."""

    teacher: str
    taught: TaughtSet
    dropped: int
    retriever: str
    train_shots: dict
    test_shots: dict
    test_knowledge: dict[str, str]


def prepare_lessons(config: InternalizeConfig, train: list[TaskItem], test: list[TaskItem],
                    progress: Progress) -> Lessons:
    """Teach the training questions (wrong rationales dropped), retrieve neighbours, write test knowledge."""
    teacher = make_teacher(config.teacher, num_rationales=config.rationales,
                           knowledge_candidates=config.knowledge_candidates, retriever=config.retriever)
    teachings = teach_all(teacher, train)
    taught = TaughtSet.from_teachings(train, teachings)
    kept, dropped = sum(len(t.rationales) for t in teachings), sum(t.dropped for t in teachings)
    progress(Event("teacher", f"teacher {teacher.name}: {kept} rationales kept, {dropped} dropped (wrong answer); "
                   f"{len(taught.items)}/{len(train)} training questions usable",
                   {"teacher": teacher.name, "kept": kept, "dropped": dropped, "usable": len(taught.items)}))
    if len(taught.items) < 2:
        raise InternalizeFailure("teacher: fewer than 2 training questions kept a correct rationale")
    retriever = make_retriever([i.question for i in taught.items], config.retriever)
    return Lessons(teacher.name, taught, dropped, retriever.name,
                   neighbours(taught.items, taught, retriever, config.examples),
                   neighbours(test, taught, retriever, config.examples),
                   {i.id: teacher.knowledge(i) for i in test})


def evaluate_approach(name: str, model: Any, tokenizer: Any, prompts: list[list[dict]], golds: list[str],
                      parameters: int, config: InternalizeConfig) -> tuple[ApproachResult, list[dict]]:
    """Greedy answers of `model` to `prompts`, scored against `golds`."""
    from tooltune.models.hf_local import HFChatModel

    chat = HFChatModel(model, tokenizer, name=name)
    answers = answer_all(chat, prompts, batch_size=config.eval_batch_size, max_new_tokens=config.max_new_tokens, desc=name)
    return score_answers(name, answers, golds, parameters)


class _Scoreboard:
    """Evaluates each approach on the held-out questions, keeps its row and records, reports it."""

    def __init__(self, tokenizer: Any, test: list[TaskItem], parameters: int, config: InternalizeConfig,
                 progress: Progress) -> None:
        self.tokenizer, self.test, self.parameters, self.config, self.progress = tokenizer, test, parameters, config, progress
        self.rows: list[ApproachResult] = []
        self.records: dict[str, list[dict]] = {}
        self.clock = time.perf_counter()

    def evaluate(self, name: str, model: Any, prompts: list[list[dict]]) -> None:
        row, records = evaluate_approach(name, model, self.tokenizer, prompts, [i.answer for i in self.test],
                                         self.parameters, self.config)
        self.rows.append(row)
        self.records[name] = records
        self.progress(Event("evaluated", f"{name}: {row.correct}/{row.total} correct, {row.mean_prompt_tokens:.1f} "
                            f"prompt tokens [{time.perf_counter() - self.clock:.0f} s]", row.to_dict()))


def run_task_experiment(config: InternalizeConfig, load_student: TrainableLoader, progress: Progress = print_messages,
                        *, student: str | None = None, overwrite: bool = False) -> dict:
    """Teach, retrieve, compress, train Std-CoT and SKIntern students, evaluate all approaches; write a report.

    `student` names the student `load_student` loads; with the settings it keys the trained stages kept in
    the output directory (a rerun with other ones is refused unless `overwrite`)."""
    check_retriever(config.retriever)
    compressor_path(config.compressor)
    train, test = split_problems(config.n_train, config.n_test, seed=config.seed, rules=DEFAULT_RULES[: config.rules])
    out = begin_experiment(config, student, overwrite)
    if config.reduced():
        progress(Event("quick", "quick run, below the paper's settings: " + "; ".join(config.reduced()),
                       {"reduced": config.reduced()}))
    clock = time.perf_counter()
    lessons = prepare_lessons(config, train, test, progress)
    model, tokenizer = load_student()
    board = _Scoreboard(tokenizer, test, count_parameters(model), config, progress)
    compressor = make_compressor(config.compressor, model, tokenizer)
    schedule = config.schedule(config.examples)
    datasets = skintern_stages(lessons.taught, lessons.train_shots, schedule, compressor, seed=config.seed)
    knowledge_tokens = mean(compressor.count(lessons.taught.teachings[i.id].knowledge) for i in lessons.taught.items)
    progress(Event("schedule", schedule.describe(knowledge_tokens), {"plans": [p.__dict__ for p in schedule.plans()]}))
    progress(Event("setup", f"retriever {lessons.retriever}, compressor {compressor.name}, student "
                   f"{board.parameters / 1e6:.1f} M parameters",
                   {"retriever": lessons.retriever, "compressor": compressor.name, "parameters": board.parameters}))
    (out / "stage_samples.json").write_text(json.dumps([d[0]["messages"] for d in datasets], indent=1, ensure_ascii=False))

    board.evaluate(APPROACHES[0], model, knowledge_prompts(test, lessons.test_knowledge, lessons.test_shots))
    board.evaluate(APPROACHES[1], model, question_prompts(test))
    train_students(config, load_student, (model, tokenizer), datasets, lessons.taught, board)
    report = {"config": config.model_dump(), "schedule": [p.__dict__ for p in schedule.plans()],
              "mean_knowledge_tokens": knowledge_tokens, "retriever": lessons.retriever, "compressor": compressor.name,
              "teacher": lessons.teacher, "rationales_dropped": lessons.dropped,
              "results": [r.to_dict() for r in board.rows], "seconds": time.perf_counter() - clock}
    write_report(out, report, board, test, progress)
    return report


def train_students(config: InternalizeConfig, load_student: TrainableLoader, loaded: tuple[Any, Any],
                   datasets: list[list[dict]], taught: TaughtSet, board: _Scoreboard) -> None:
    """The SKIntern student (the loaded model, stage by stage) and a fresh Std-CoT student with the same E
    epochs on question-only prompts, each evaluated on the question alone."""
    model, tokenizer = loaded
    train_staged(model, tokenizer, datasets, config, examples=config.examples)
    board.evaluate(APPROACHES[2], model, question_prompts(board.test))
    del model, loaded
    std_model, _ = load_student()
    train_baseline(std_model, tokenizer, std_cot_dataset(taught), config, "std_cot")
    board.evaluate(APPROACHES[3], std_model, question_prompts(board.test))


def write_report(out: Path, report: dict, board: _Scoreboard, test: list[TaskItem], progress: Progress) -> None:
    """report.json, table.txt and every answer (answers.jsonl) in the output directory; the table reported."""
    table = format_table(board.rows)
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "table.txt").write_text(table + "\n")
    with open(out / "answers.jsonl", "w", encoding="utf-8") as handle:
        for name, records in board.records.items():
            handle.writelines(json.dumps({"approach": name, "id": item.id, "question": item.question, **record}) + "\n"
                              for item, record in zip(test, records))
    progress(Event("table", table, {"results": report["results"]}))


def run_internalize(config: CurriculumConfig, student: str = "smollm2", *, student_adapter: str | Path | None = None,
                    overwrite: bool = False, progress: Progress = print_messages) -> dict:
    """The task experiment (`InternalizeConfig`) or the profile experiment (`ProfileConfig`) with `student`
    (smollm2 or a checkpoint directory; the profile experiment may start from `student_adapter` merged into it);
    the spec and the output directory are checked before anything loads. A teacher or student that fails to
    load or answer is a RunFailure naming --teacher."""
    from tooltune.errors import RunFailure
    from tooltune.models.base import ModelError

    if student_adapter is not None and not isinstance(config, ProfileConfig):
        raise InternalizeError("student_adapter: only the profile experiment starts from an adapter")
    load_student = student_loader(student, student_adapter)
    key = student_key(student, student_adapter)
    check_experiment_dir(config, key, overwrite)
    try:
        if isinstance(config, ProfileConfig):
            from tooltune.methods.internalize.profile import run_profile_experiment

            return run_profile_experiment(config, load_student, progress, student=key, overwrite=overwrite,
                                          student_adapter=student_adapter)
        if isinstance(config, InternalizeConfig):
            return run_task_experiment(config, load_student, progress, student=student, overwrite=overwrite)
    except ModelError as exc:
        raise RunFailure(f"--teacher: {exc}") from exc
    raise TypeError(f"config: expected an InternalizeConfig or a ProfileConfig, got {type(config).__name__}")


def student_key(student: str, adapter: str | Path | None) -> str:
    """How the settings name the student: its spec, plus the adapter merged into it (resolved path)."""
    return student if adapter is None else f"{student}+{Path(adapter).resolve()}"
