"""The SKIntern experiment on a generated task: knowledge + few-shot prompting vs standard CoT distillation
vs progressive internalization, each with accuracy, inference prompt tokens and FLOPs."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from statistics import mean
from typing import Any


from tooltune.methods.internalize.metrics import ApproachResult, count_parameters, format_table
from tooltune.methods.internalize.compress import compressor_path, make_compressor
from tooltune.methods.internalize.curriculum import (
    TaughtSet,
    knowledge_prompts,
    neighbours,
    question_prompts,
    skintern_stages,
    std_cot_dataset,
)
from tooltune.methods.internalize.evaluate import answer_all, score_answers
from tooltune.methods.internalize.retrieve import check_retriever, make_retriever
from tooltune.methods.internalize.tasks import DEFAULT_RULES, split_problems
from tooltune.methods.internalize.teacher import make_teacher, teach_all
from tooltune.methods.internalize.errors import InternalizeFailure
from tooltune.methods.internalize.config import InternalizeConfig
from tooltune.models.registry import TrainableLoader
from tooltune.methods.internalize.method import add_lora, begin_experiment, train_curriculum



def evaluate_approach(name: str, model: Any, tokenizer: Any, prompts: list[list[dict]], golds: list[str],
                      parameters: int, config: InternalizeConfig) -> tuple[ApproachResult, list[dict]]:
    """Greedy answers of `model` to `prompts`, scored against `golds`."""
    from tooltune.models.hf_local import HFChatModel

    chat = HFChatModel(model, tokenizer, name=name)
    answers = answer_all(chat, prompts, batch_size=config.eval_batch_size, max_new_tokens=config.max_new_tokens, desc=name)
    return score_answers(name, answers, golds, parameters)


def run_task_experiment(config: InternalizeConfig, load_student: TrainableLoader, log: Callable[[str], None] = print,
                        *, student: str | None = None, overwrite: bool = False) -> dict:
    """Teach, retrieve, compress, train Std-CoT and SKIntern students, evaluate all approaches; write a report.

    `student` names the student `load_student` loads; with the settings it keys the trained stages kept in
    the output directory (a rerun with other ones is refused unless `overwrite`)."""
    check_retriever(config.retriever)
    compressor_path(config.compressor)
    train, test = split_problems(config.n_train, config.n_test, seed=config.seed, rules=DEFAULT_RULES[: config.rules])
    out = begin_experiment(config, student, overwrite)
    clock = time.perf_counter()
    teacher = make_teacher(config.teacher, num_rationales=config.rationales)
    teachings = teach_all(teacher, train)
    taught = TaughtSet.from_teachings(train, teachings)
    dropped = sum(t.dropped for t in teachings)
    log(f"teacher {teacher.name}: {sum(len(t.rationales) for t in teachings)} rationales kept, {dropped} dropped (wrong answer); "
        f"{len(taught.items)}/{len(train)} training questions usable")
    if len(taught.items) < 2:
        raise InternalizeFailure("teacher: fewer than 2 training questions kept a correct rationale")
    retriever = make_retriever([i.question for i in taught.items], config.retriever)
    train_shots = neighbours(taught.items, taught, retriever, config.examples)
    test_shots = neighbours(test, taught, retriever, config.examples)
    test_knowledge = {i.id: teacher.knowledge(i) for i in test}
    golds = [i.answer for i in test]

    model, tokenizer = load_student()
    parameters = count_parameters(model)
    compressor = make_compressor(config.compressor, model, tokenizer)
    schedule = config.schedule(config.examples)
    datasets = skintern_stages(taught, train_shots, schedule, compressor, seed=config.seed)
    knowledge_tokens = mean(compressor.count(taught.teachings[i.id].knowledge) for i in taught.items)
    log(schedule.describe(knowledge_tokens))
    log(f"retriever {retriever.name}, compressor {compressor.name}, student {parameters / 1e6:.1f} M parameters")
    (out / "stage_samples.json").write_text(json.dumps([d[0]["messages"] for d in datasets], indent=1, ensure_ascii=False))

    rows: list[ApproachResult] = []
    records: dict[str, list[dict]] = {}

    def evaluate(name: str, student: Any, prompts: list[list[dict]]) -> None:
        row, recs = evaluate_approach(name, student, tokenizer, prompts, golds, parameters, config)
        rows.append(row)
        records[name] = recs
        log(f"{name}: {row.correct}/{row.total} correct, {row.mean_prompt_tokens:.1f} prompt tokens "
            f"[{time.perf_counter() - clock:.0f} s]")

    evaluate("knowledge+few-shot prompting", model, knowledge_prompts(test, test_knowledge, test_shots))
    evaluate("question only (no training)", model, question_prompts(test))

    knobs = config.knobs()
    add_lora(model, knobs)
    plans = schedule.plans()
    train_curriculum(model, tokenizer, datasets, [p.epochs for p in plans], knobs, out / "skintern",
                     names=[f"S{p.index}-{p.keep_ratio:.2f}" for p in plans])
    evaluate("SKIntern internalized", model, question_prompts(test))
    del model

    std_model, _ = load_student()
    add_lora(std_model, knobs)
    train_curriculum(std_model, tokenizer, [std_cot_dataset(taught)], [config.total_epochs], knobs, out / "std_cot",
                     names=["std-cot"])
    evaluate("Std-CoT distillation", std_model, question_prompts(test))

    table = format_table(rows)
    report = {
        "config": config.model_dump(),
        "schedule": [p.__dict__ for p in plans],
        "mean_knowledge_tokens": knowledge_tokens,
        "retriever": retriever.name,
        "compressor": compressor.name,
        "teacher": teacher.name,
        "rationales_dropped": dropped,
        "results": [r.to_dict() for r in rows],
        "seconds": time.perf_counter() - clock,
    }
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "table.txt").write_text(table + "\n")
    with open(out / "answers.jsonl", "w", encoding="utf-8") as handle:
        for name, recs in records.items():
            for item, rec in zip(test, recs):
                handle.write(json.dumps({"approach": name, "id": item.id, "question": item.question, **rec}) + "\n")
    log(table)
    return report
