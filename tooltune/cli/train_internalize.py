"""`tooltune train internalize`: progressive internalization (SKIntern) of rule knowledge or a user profile."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer


OPTIONS = {"n_train": "--n-train", "n_test": "--n-test", "stages": "--stages", "total_epochs": "--epochs",
           "batch_size": "--batch-size", "seed": "--seed", "decay": "--decay", "compressor": "--compressor",
           "lora_r": "--lora-r", "lora_alpha": "--lora-r", "learning_rate": "--learning-rate", "rules": "--rules",
           "rationales": "--rationales", "teacher": "--teacher", "examples": "--examples", "retriever": "--retriever",
           "user": "--user", "apps": "--apps", "max_turns": "--max-turns"}
"""Command-line option of each config field, for errors that name what the user typed."""


class KnowledgeKind(str, Enum):
    rules = "rules"
    profile = "profile"


def register(app: typer.Typer) -> None:
    """Add the `internalize` command to the `train` app."""

    @app.command("internalize")
    def internalize(
        knowledge: KnowledgeKind = typer.Option(
            KnowledgeKind.rules, help="rules: generated unit-conversion word problems with their rule as knowledge; "
            "profile: a sandbox user's profile, trained on that user's gold trajectories"),
        user: str = typer.Option(None, help="sandbox user id for --knowledge profile (e.g. maya_chen)"),
        apps: str = typer.Option("", help="profile: comma-separated apps; only instructions using just these apps"),
        student: str = typer.Option("smollm2", help="student: smollm2 (embedded) or a Hugging Face checkpoint directory"),
        teacher: str = typer.Option("deterministic", help="deterministic (code-written) or a model spec: smollm2 | PATH | openai:URL#MODEL"),
        output_dir: Path = typer.Option(Path("runs/internalize"), help="where stages, adapters and the report go; "
                                        "rerunning with the same options resumes, other options are refused"),
        overwrite: bool = typer.Option(False, "--overwrite", help="remove an earlier experiment's stages and "
                                       "report in --output-dir and start afresh"),
        n_train: int = typer.Option(None, help="training questions (rules, default 24) / instructions (profile, default 3)"),
        n_test: int = typer.Option(None, help="held-out questions (rules, default 24) / instructions (profile, default 2)"),
        rules: int = typer.Option(6, help="how many invented unit rules the generated problems use (1-6)"),
        stages: int = typer.Option(None, help="T: curriculum stages, S decays from 1 to 0 (rules 4, profile 3)"),
        examples: int = typer.Option(2, help="K: few-shot examples at S = 1 (floor(K*S_t) per stage)"),
        epochs: float = typer.Option(None, help="E: epochs in all, split evenly over the stages; the baseline gets "
                                     "the same (rules 4, profile 3)"),
        decay: str = typer.Option("linear", help="linear | exponential"),
        rationales: int = typer.Option(1, help="teacher rationales per training question (SKIntern: 2)"),
        retriever: str = typer.Option("auto", help="auto (embedding when installed) | bm25 | embedding"),
        compressor: str = typer.Option("auto", help="auto (LLMLingua-2 when installed with its model) | surprisal | llmlingua"),
        lora_r: int = typer.Option(32, help="LoRA rank on all linears"),
        learning_rate: float = typer.Option(1e-3, help="learning rate of every stage"),
        batch_size: int = typer.Option(None, help="training batch size (rules 8, profile 1)"),
        seed: int = typer.Option(0, min=0, max=2**32 - 1, help="data, sampling and initialization seed"),
        max_turns: int = typer.Option(4, help="profile: agent turns per held-out episode"),
    ) -> None:
        """Train a student to answer without knowledge in its prompt, and compare cost and accuracy."""
        from pydantic import ValidationError

        from tooltune.methods.internalize.config import InternalizeConfig, ProfileConfig
        from tooltune.methods.internalize.experiment import run_task_experiment
        from tooltune.methods.internalize.method import check_experiment_dir, student_loader
        from tooltune.errors import RunFailure
        from tooltune.models.base import ModelError
        from tooltune.train.settings import SettingsError, settings_error

        given = dict(n_train=n_train, n_test=n_test, stages=stages, total_epochs=epochs, batch_size=batch_size)
        common = dict(output_dir=str(output_dir), seed=seed, decay=decay, compressor=compressor, lora_r=lora_r,
                      lora_alpha=float(lora_r), learning_rate=learning_rate,
                      **{k: v for k, v in given.items() if v is not None})
        if knowledge is KnowledgeKind.profile and not user:
            raise SettingsError("--user: required with --knowledge profile")
        try:
            if knowledge is KnowledgeKind.profile:
                from tooltune.methods.internalize.profile import run_profile_experiment

                app_list = [a.strip() for a in apps.split(",") if a.strip()]
                profile_config = ProfileConfig(user=user, apps=app_list, max_turns=max_turns, **common)
            else:
                task_config = InternalizeConfig(rules=rules, rationales=rationales, teacher=teacher, examples=examples,
                                                retriever=retriever, **common)
        except ValidationError as exc:
            raise settings_error(exc, OPTIONS) from exc
        config = profile_config if knowledge is KnowledgeKind.profile else task_config
        load_student = student_loader(student)
        check_experiment_dir(config, student, overwrite)
        try:
            if knowledge is KnowledgeKind.profile:
                run_profile_experiment(profile_config, load_student, log=typer.echo, student=student,
                                       overwrite=overwrite)
            else:
                run_task_experiment(task_config, load_student, log=typer.echo, student=student, overwrite=overwrite)
        except ModelError as exc:
            raise RunFailure(f"--teacher: {exc}") from exc
        typer.echo(f"report: {output_dir / 'report.json'}")
