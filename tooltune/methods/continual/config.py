"""The continual run's knobs and its task sequence: typed, validated at the edge, errors name the field."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tooltune.adapters import TARGET_MODULES
from tooltune.adapters.dual_rank import DualRankConfig
from tooltune.errors import UsageError
from tooltune.train.data import Example
from tooltune.train.settings import SEED_MAX
from tooltune.train.trainer import TrainConfig

METHODS = ("data", "seqlora", "olora", "multitask")


class ContinualError(UsageError):
    """The task sequence or its settings cannot be run as given; the message names the task, file or field."""


@dataclass
class ContinualTask:
    """One task of the sequence: training examples and held-out examples to score."""

    name: str
    train: list[Example]
    test: list[Example]

    def __post_init__(self) -> None:
        if not self.train:
            raise ContinualError(f"task {self.name!r}: field 'train' has no examples")
        if not self.test:
            raise ContinualError(f"task {self.name!r}: field 'test' has no examples")


class ContinualConfig(BaseModel):
    """How to run one method over the sequence (defaults from DATA: one epoch per task, lr 1e-4)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    method: str = "data"
    output_dir: str
    base_model: str | None = Field(None, description="the model the stages train (cached stages depend on it)")
    epochs: float = Field(1.0, gt=0)
    learning_rate: float = Field(1e-4, gt=0)
    batch_size: int = Field(4, ge=1)
    grad_accum: int = Field(1, ge=1)
    max_length: int = Field(1024, ge=8)
    seed: int = Field(0, ge=0, le=SEED_MAX)
    target_modules: list[str] = Field(default_factory=lambda: list(TARGET_MODULES))
    lora_rank: int = Field(20, ge=1, description="SeqLoRA / multitask rank (20 = 4 + 16, the dual-rank total)")
    olora_rank: int = Field(8, ge=1)
    olora_orthogonality_weight: float = Field(0.5, ge=0)
    rank_low: int = Field(4, ge=1)
    rank_high: int = Field(16, ge=1)
    rows_per_task: int = Field(8, ge=1)
    layers_per_group: int = Field(1, ge=1)
    per_token: bool = False
    orthogonality_weight: float = Field(1.0, ge=0)
    restoration_rate: float = Field(0.01, ge=0, le=1)
    restoration_period: int = Field(10, ge=1)
    single_task: bool = Field(False, description="also train each task alone (for FWT)")
    top_layers: int | None = Field(None, ge=1, description="adapt only the last N decoder layers")

    def model_post_init(self, __context: Any) -> None:
        if self.method not in METHODS:
            raise ContinualError(f"method must be one of {METHODS}, got {self.method!r}")

    def train_config(self, output_dir: Path) -> TrainConfig:
        return TrainConfig(output_dir=str(output_dir), epochs=self.epochs, learning_rate=self.learning_rate,
                           batch_size=self.batch_size, grad_accum=self.grad_accum, max_length=self.max_length,
                           seed=self.seed, disable_tqdm=True, logging_steps=50)

    def dual_rank_config(self, target_modules: list[str] | None = None) -> DualRankConfig:
        return DualRankConfig(target_modules=target_modules or self.target_modules, rank_low=self.rank_low,
                              rank_high=self.rank_high, rows_per_task=self.rows_per_task,
                              layers_per_group=self.layers_per_group,
                              per_token=self.per_token, orthogonality_weight=self.orthogonality_weight,
                              restoration_rate=self.restoration_rate, restoration_period=self.restoration_period,
                              seed=self.seed)
