"""The knobs of internalization: the curriculum every experiment shares, the task experiment's and the profile
experiment's; typed, validated at the edge, errors name the field."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from tooltune.methods.internalize.schedule import DecaySchedule
from tooltune.methods.internalize.tasks import DEFAULT_RULES
from tooltune.train.settings import SEED_MAX


@dataclass(frozen=True)
class StudentTraining:
    """LoRA and optimizer knobs. SKIntern used rank 32 on all linears; lr and batch are CPU-sized here."""

    lora_r: int = 32
    lora_alpha: float = 32.0
    learning_rate: float = 1e-3
    batch_size: int = 8
    max_length: int = 512
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("lora_r", "batch_size", "max_length"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("lora_alpha", "learning_rate"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")


class CurriculumConfig(BaseModel):
    """Knobs every internalization experiment shares: the schedule, the compressor, LoRA and the optimizer."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    output_dir: str
    seed: int = Field(0, ge=0, le=SEED_MAX)
    stages: int = Field(4, ge=2)
    total_epochs: float = Field(4.0, gt=0)
    decay: Literal["linear", "exponential"] = "linear"
    compressor: Literal["auto", "surprisal", "llmlingua"] = "auto"
    lora_r: int = Field(32, ge=1)
    lora_alpha: float = Field(32.0, gt=0)
    learning_rate: float = Field(1e-3, gt=0)
    batch_size: int = Field(8, ge=1)
    max_length: int = Field(512, ge=16)

    def schedule(self, examples: int = 0) -> DecaySchedule:
        return DecaySchedule(stages=self.stages, examples=examples, total_epochs=self.total_epochs, kind=self.decay)

    def knobs(self) -> StudentTraining:
        return StudentTraining(self.lora_r, self.lora_alpha, self.learning_rate, self.batch_size, self.max_length, self.seed)


class InternalizeConfig(CurriculumConfig):
    """Every knob of one task experiment; validated at the edge, errors name the field."""

    n_train: int = Field(24, ge=2)
    n_test: int = Field(24, ge=1)
    rules: int = Field(len(DEFAULT_RULES), ge=1, le=len(DEFAULT_RULES))
    examples: int = Field(2, ge=0, description="K: few-shot examples at S = 1")
    rationales: int = Field(1, ge=1, description="rationales per training question (SKIntern: 2)")
    teacher: str = "deterministic"
    retriever: Literal["auto", "bm25", "embedding"] = "auto"
    max_new_tokens: int = Field(48, ge=1)
    eval_batch_size: int = Field(12, ge=1)


class ProfileConfig(CurriculumConfig):
    """Knobs of the profile experiment (sized for a CPU: gold trajectories are 1.3-1.9 k tokens)."""

    user: str
    apps: list[str] = Field(default_factory=list, description="only instructions whose apps are all in this set (empty: all)")
    n_train: int = Field(3, ge=1, description="training instructions of the user")
    n_test: int = Field(2, ge=1, description="held-out instructions of the user")
    stages: int = Field(3, ge=2)
    total_epochs: float = Field(3.0, gt=0)
    batch_size: int = Field(1, ge=1)
    max_length: int = Field(2048, ge=64)
    max_turns: int = Field(4, ge=1, description="agent turns per held-out episode")
    max_new_tokens: int = Field(128, ge=8, description="long enough for a complete tool call")
