"""The knobs of internalization: the curriculum every experiment shares, the task experiment's and the profile
experiment's; typed, validated at the edge, errors name the field.

A config holds the shared trainer's `TrainConfig` and the student's `LoRAConfig` whole (`train`, `lora`);
a field left out takes the experiment's default from `defaults`, the one place each default is set.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tooltune.adapters import TARGET_MODULES, LoRAConfig
from tooltune.methods.internalize.defaults import (
    KNOWLEDGE_CANDIDATES,
    PAPER_EPOCHS,
    PAPER_LORA_RANK,
    PAPER_RATIONALES,
    PROFILE,
    PROFILE_TRAINING,
    TASK,
    TASK_TRAINING,
)
from tooltune.methods.internalize.schedule import DecaySchedule
from tooltune.methods.internalize.tasks import DEFAULT_RULES
from tooltune.train.settings import SEED_MAX
from tooltune.train.trainer import TrainConfig

PAPER_LORA: dict[str, Any] = {"target_modules": list(TARGET_MODULES), "r": PAPER_LORA_RANK,
                              "alpha": float(PAPER_LORA_RANK)}


class FiniteTrainConfig(TrainConfig):
    """The shared trainer's config, refusing infinite and NaN numbers (an epoch count of inf never ends)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


def _merged(value: Any, defaults: dict[str, Any]) -> Any:
    """A partial dict (or the fields set on a built TrainConfig) completed with `defaults`."""
    if isinstance(value, TrainConfig):
        value = value.model_dump(exclude_unset=True)
    return {**defaults, **value} if isinstance(value, dict) else value


class CurriculumConfig(BaseModel):
    """Knobs every internalization experiment shares: the trainer's (`train.output_dir` is the experiment's
    directory, `train.epochs` is E, the epochs in all, split evenly over the stages), the student's LoRA,
    the schedule and the compressor."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    train_defaults: ClassVar[dict[str, Any]] = TASK_TRAINING

    train: FiniteTrainConfig
    lora: LoRAConfig = Field(default_factory=lambda: LoRAConfig(**PAPER_LORA))
    stages: int = Field(TASK["stages"], ge=2, description="T: curriculum stages, S decays from 1 to 0")
    decay: Literal["linear", "exponential"] = "linear"
    compressor: Literal["auto", "surprisal", "llmlingua"] = "auto"

    @field_validator("train", mode="before")
    @classmethod
    def _train_defaults(cls, value: Any) -> Any:
        return _merged(value, cls.train_defaults)

    @field_validator("lora", mode="before")
    @classmethod
    def _lora_defaults(cls, value: Any) -> Any:
        return _merged(value, PAPER_LORA)

    @field_validator("train")
    @classmethod
    def _seed_fits(cls, value: FiniteTrainConfig) -> FiniteTrainConfig:
        if not 0 <= value.seed <= SEED_MAX:
            raise ValueError(f"seed must be within 0..{SEED_MAX}, got {value.seed}")
        return value

    @property
    def output_dir(self) -> str:
        return self.train.output_dir

    @property
    def seed(self) -> int:
        return self.train.seed

    @property
    def total_epochs(self) -> float:
        return self.train.epochs

    def schedule(self, examples: int = 0) -> DecaySchedule:
        return DecaySchedule(stages=self.stages, examples=examples, total_epochs=self.total_epochs, kind=self.decay)

    def train_config(self, subdir: str) -> TrainConfig:
        """The trainer's config for one student, trained in `output_dir/subdir`."""
        return self.train.model_copy(update={"output_dir": str(Path(self.output_dir) / subdir)})


class InternalizeConfig(CurriculumConfig):
    """Every knob of one task experiment; validated at the edge, errors name the field."""

    n_train: int = Field(TASK["n_train"], ge=2)
    n_test: int = Field(TASK["n_test"], ge=1)
    stages: int = Field(TASK["stages"], ge=2)
    rules: int = Field(len(DEFAULT_RULES), ge=1, le=len(DEFAULT_RULES))
    examples: int = Field(TASK["examples"], ge=0, description="K: few-shot examples at S = 1")
    rationales: int = Field(PAPER_RATIONALES, ge=1, description="l: rationales per training question")
    knowledge_candidates: int = Field(KNOWLEDGE_CANDIDATES, ge=1, description="knowledge texts a model teacher "
                                      "writes per question; the one most similar to question + rationale is kept")
    teacher: str = "deterministic"
    retriever: Literal["auto", "bm25", "embedding"] = "auto"
    max_new_tokens: int = Field(48, ge=1)
    eval_batch_size: int = Field(12, ge=1)

    def reduced(self) -> list[str]:
        """The paper's settings this run lowers for a quick run, as `name value < paper value`."""
        notes = [f"{name} {value:g} < paper {paper:g}" for name, value, paper in (
            ("epochs (E)", self.total_epochs, PAPER_EPOCHS),
            ("rationales (l)", self.rationales, PAPER_RATIONALES)) if value < paper]
        return notes


class ProfileConfig(CurriculumConfig):
    """Knobs of the profile experiment."""

    train_defaults: ClassVar[dict[str, Any]] = PROFILE_TRAINING

    user: str
    apps: list[str] = Field(default_factory=list, description="only instructions whose apps are all in this set (empty: all)")
    test_instructions: list[str] = Field(default_factory=list, description="held-out instructions are drawn from "
                                         "these ids and none of them is trained on (empty: any of the user's)")
    n_train: int = Field(PROFILE["n_train"], ge=1, description="training instructions of the user")
    n_test: int = Field(PROFILE["n_test"], ge=1, description="held-out instructions of the user")
    stages: int = Field(PROFILE["stages"], ge=2)
    max_turns: int = Field(PROFILE["max_turns"], ge=1, description="agent turns per held-out episode")
    max_new_tokens: int = Field(128, ge=8, description="long enough for a complete tool call")
