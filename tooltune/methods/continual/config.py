"""The continual run's settings and its task sequence: typed, validated at the edge, errors name the field.

A run's config holds the trainer's `TrainConfig` and the method's adapter config whole; the continual
defaults (DATA's: one epoch per task, lr 1e-4) are set once here, each method's adapter default in `method`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, InstanceOf

from tooltune.adapters.config import AdapterConfig
from tooltune.errors import UsageError
from tooltune.train.data import Example
from tooltune.train.trainer import TrainConfig

METHOD_NAMES = ("data", "seqlora", "olora", "multitask")


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


def continual_training(**changes: Any) -> TrainConfig:
    """The trainer's settings for continual runs: DATA's one epoch per task at lr 1e-4 (stage dirs set later)."""
    return TrainConfig(**{"output_dir": ".", "learning_rate": 1e-4, "max_length": 1024, "disable_tqdm": True,
                          "logging_steps": 50, **changes})


class ContinualConfig(BaseModel):
    """How to run one method over the sequence: the trainer's config and the adapter's config, whole.

    `adapter` None means the method's default adapter; every random initialisation (adapter, router,
    restoration) is drawn from `train.seed`.
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    method: str = "data"
    output_dir: str
    base_model: str | None = Field(None, description="the model the stages train (cached stages depend on it)")
    train: TrainConfig = Field(default_factory=continual_training)
    adapter: InstanceOf[AdapterConfig] | None = None
    single_task: bool = Field(False, description="also train each task alone (for FWT)")
    top_layers: int | None = Field(None, ge=1, description="adapt only the last N decoder layers")

    def model_post_init(self, __context: Any) -> None:
        if self.method not in METHOD_NAMES:
            raise ContinualError(f"method must be one of {METHOD_NAMES}, got {self.method!r}")

    def stage_training(self, directory: Path) -> TrainConfig:
        """The trainer's config for one stage, writing to `directory`."""
        return self.train.model_copy(update={"output_dir": str(directory)})

    def key(self) -> dict[str, Any]:
        """Every setting as plain data (the adapter by its saved form), for run-directory checks."""
        data = self.model_dump(exclude={"adapter"})
        data["train"].pop("output_dir")
        return {**data, "adapter": self.adapter.to_dict() if self.adapter is not None else None}
