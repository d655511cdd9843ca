"""`tooltune train internalize`: progressive internalization (SKIntern) of rule knowledge or a user profile.

Options left out take the experiment's defaults (`tooltune.methods.internalize.defaults`, quoted in the help)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tooltune.cli.train_continual import comma_list
from tooltune.methods.internalize import defaults as d

if TYPE_CHECKING:
    from tooltune.methods.internalize.config import CurriculumConfig

OPTIONS = {"n_train": "--n-train", "n_test": "--n-test", "stages": "--stages", "epochs": "--epochs",
           "batch_size": "--batch-size", "seed": "--seed", "decay": "--decay", "compressor": "--compressor",
           "lora": "--lora-r", "learning_rate": "--learning-rate", "rules": "--rules", "rationales": "--rationales",
           "knowledge_candidates": "--knowledge-candidates", "teacher": "--teacher", "examples": "--examples",
           "retriever": "--retriever", "user": "--user", "apps": "--apps", "max_turns": "--max-turns",
           "test_instructions": "--test-instructions", "bf16": "--bf16"}
"""Command-line option of each config field, for errors that name what the user typed."""


class KnowledgeKind(str, Enum):
    rules = "rules"
    profile = "profile"


def _both(key: str, task: dict, profile: dict) -> str:
    return f"(default: rules {task[key]:g}, profile {profile[key]:g})"


Knowledge = Annotated[KnowledgeKind, typer.Option(
    help="rules: generated unit-conversion word problems with their rule as knowledge; profile: a sandbox user's "
         "profile, trained on that user's gold trajectories")]
User = Annotated[str | None, typer.Option(help="sandbox user id for --knowledge profile (e.g. maya_chen); several, "
                                         "comma-separated, run one after the other in --output-dir/USER and are "
                                         "pooled in --output-dir/pooled.json")]
TestInstructions = Annotated[str, typer.Option(help="profile: comma-separated instruction ids the held-out ones are "
                                               "drawn from; none of them is trained on (e.g. an agent recipe's "
                                               "held-out instructions)")]
StudentAdapter = Annotated[Path | None, typer.Option(help="an adapter merged into the student before training, e.g. "
                                                     "the agent recipe's tuned agent (OUT/train/adapter)")]
Bf16 = Annotated[bool, typer.Option("--bf16", help="train under bf16 autocast (CPUs with AVX512-BF16/AMX, or GPUs)")]
Apps = Annotated[str, typer.Option(help="profile: comma-separated apps; only instructions using just these apps")]
Student = Annotated[str, typer.Option(help="student: smollm2 (embedded) or a Hugging Face checkpoint directory")]
Teacher = Annotated[str | None, typer.Option(
    help="deterministic (code-written, the default) or a model spec: smollm2 | PATH | openai:URL#MODEL")]
OutputDir = Annotated[Path, typer.Option(help="where stages, adapters and the report go; rerunning with the same "
                                         "options resumes, other options are refused")]
Overwrite = Annotated[bool, typer.Option("--overwrite", help="remove an earlier experiment's stages and report in "
                                         "--output-dir and start afresh")]
NTrain = Annotated[int | None, typer.Option(help="training questions / instructions "
                                            + _both("n_train", d.TASK, d.PROFILE))]
NTest = Annotated[int | None, typer.Option(help="held-out questions / instructions " + _both("n_test", d.TASK, d.PROFILE))]
Rules = Annotated[int | None, typer.Option(help="how many invented unit rules the generated problems use (1-6, "
                                           "default 6)")]
Stages = Annotated[int | None, typer.Option(help="T: curriculum stages, S decays linearly from 1 to 0 "
                                            + _both("stages", d.TASK, d.PROFILE))]
Examples = Annotated[int | None, typer.Option(help=f"K: few-shot examples at S = 1, floor(K*S_t) per stage "
                                              f"(default {d.TASK['examples']})")]
Epochs = Annotated[float | None, typer.Option(help="E: epochs in all, split evenly over the stages; the baseline gets "
                                              "the same " + _both("epochs", d.TASK_TRAINING, d.PROFILE_TRAINING)
                                              + f"; the paper's E is {d.PAPER_EPOCHS:g}")]
Decay = Annotated[str | None, typer.Option(help="linear (default, the paper's best) | exponential")]
Rationales = Annotated[int | None, typer.Option(help=f"l: teacher rationales per training question (default: the "
                                                f"paper's {d.PAPER_RATIONALES})")]
Candidates = Annotated[int | None, typer.Option(help="knowledge texts a model teacher writes per question; the one most "
                                                f"similar to the question and its rationale is kept (default "
                                                f"{d.KNOWLEDGE_CANDIDATES})")]
Retriever = Annotated[str | None, typer.Option(help="auto (default: embedding when installed) | bm25 | embedding")]
Compressor = Annotated[str | None, typer.Option(
    help="auto (default: LLMLingua-2 when installed with its model) | surprisal | llmlingua")]
LoraR = Annotated[int | None, typer.Option(help=f"LoRA rank (= alpha) on all linears (default {d.PAPER_LORA_RANK})")]
LearningRate = Annotated[float | None, typer.Option(help="learning rate of every stage "
                                                    + _both("learning_rate", d.TASK_TRAINING, d.PROFILE_TRAINING))]
BatchSize = Annotated[int | None, typer.Option(help="training batch size " + _both("batch_size", d.TASK_TRAINING,
                                                                                    d.PROFILE_TRAINING))]
Seed = Annotated[int, typer.Option(min=0, max=2**32 - 1, help="data, sampling and initialization seed")]
MaxTurns = Annotated[int | None, typer.Option(help=f"profile: agent turns per held-out episode "
                                              f"(default {d.PROFILE['max_turns']})")]


def build_config(knowledge: KnowledgeKind, output_dir: Path, options: dict[str, Any]) -> CurriculumConfig:
    """The experiment's config from the options given (None: the config's default); errors name the option."""
    from pydantic import ValidationError

    from tooltune.methods.internalize.config import InternalizeConfig, ProfileConfig
    from tooltune.train.settings import SettingsError, settings_error

    given = {k: v for k, v in options.items() if v is not None}
    train = {k: given.pop(k) for k in ("epochs", "learning_rate", "batch_size", "seed", "bf16") if k in given}
    if "lora_r" in given:
        rank = given.pop("lora_r")
        given["lora"] = {"r": rank, "alpha": float(rank)}
    if knowledge is KnowledgeKind.profile:
        if not given.get("user"):
            raise SettingsError("--user: required with --knowledge profile")
        given["apps"] = comma_list(given.get("apps", ""))
        given["test_instructions"] = comma_list(given.get("test_instructions", ""))
        drop, kind = ("rules", "examples", "rationales", "knowledge_candidates", "teacher", "retriever"), ProfileConfig
    else:
        drop, kind = ("user", "apps", "max_turns", "test_instructions"), InternalizeConfig
    try:
        return kind(train={"output_dir": str(output_dir), **train}, **{k: v for k, v in given.items() if k not in drop})
    except ValidationError as exc:
        raise settings_error(exc, OPTIONS) from exc


def internalize(knowledge: Knowledge = KnowledgeKind.rules, user: User = None, apps: Apps = "",
                student: Student = "smollm2", teacher: Teacher = None,
                output_dir: OutputDir = Path("runs/internalize"), overwrite: Overwrite = False,
                n_train: NTrain = None, n_test: NTest = None, rules: Rules = None, stages: Stages = None,
                examples: Examples = None, epochs: Epochs = None, decay: Decay = None, rationales: Rationales = None,
                knowledge_candidates: Candidates = None, retriever: Retriever = None, compressor: Compressor = None,
                lora_r: LoraR = None, learning_rate: LearningRate = None, batch_size: BatchSize = None, seed: Seed = 0,
                max_turns: MaxTurns = None, test_instructions: TestInstructions = "",
                student_adapter: StudentAdapter = None, bf16: Bf16 = False) -> None:
    """Train a student to answer without knowledge in its prompt, and compare cost and accuracy."""
    from tooltune.methods.internalize.experiment import run_internalize

    from tooltune.train.settings import SettingsError

    options = {"apps": apps, "teacher": teacher, "n_train": n_train, "n_test": n_test, "rules": rules,
               "stages": stages, "examples": examples, "epochs": epochs, "decay": decay, "rationales": rationales,
               "knowledge_candidates": knowledge_candidates, "retriever": retriever, "compressor": compressor,
               "lora_r": lora_r, "learning_rate": learning_rate, "batch_size": batch_size, "seed": seed,
               "max_turns": max_turns, "test_instructions": test_instructions, "bf16": bf16 or None}
    users = comma_list(user or "")
    if knowledge is KnowledgeKind.profile and len(users) > 1:
        from tooltune.methods.internalize.profile_pool import run_profile_users

        configs = [build_config(knowledge, output_dir / u, {**options, "user": u}) for u in users]
        run_profile_users(configs, output_dir, student, student_adapter=student_adapter, overwrite=overwrite,
                          progress=lambda event: typer.echo(event.message))
        typer.echo(f"report: {output_dir / 'pooled.json'}")
        return
    if knowledge is not KnowledgeKind.profile and student_adapter is not None:
        raise SettingsError("--student-adapter: only with --knowledge profile")
    config = build_config(knowledge, output_dir, {**options, "user": user})
    run_internalize(config, student, student_adapter=student_adapter, overwrite=overwrite,
                    progress=lambda event: typer.echo(event.message))
    typer.echo(f"report: {output_dir / 'report.json'}")


def register(app: typer.Typer) -> None:
    """Add the `internalize` command to the `train` app."""
    app.command("internalize")(internalize)
