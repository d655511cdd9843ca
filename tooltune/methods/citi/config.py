"""CITI's knobs and the comparison's: typed, validated at the edge, errors name the field."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tooltune.train.settings import SEED_MAX


class CITISettings(BaseModel):
    """Defaults are the CITI release's: 4 experts, rank 8, alpha 2, balance 0.01, top 20%, 10% of down_proj,
    stages of 1 and 2 epochs at 2e-4, then the full-tuning stage at 2e-5."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    num_experts: int = Field(4, ge=1)
    r: int = Field(8, ge=1)
    alpha: float = Field(2.0, gt=0)
    top_k: int | None = Field(None, ge=1)
    balance_weight: float = Field(0.01, ge=0)
    top_fraction: float = Field(0.2, gt=0, le=1)
    full_fraction: float = Field(0.1, ge=0, le=1)
    full_kind: str = "down_proj"
    stage_epochs: tuple[float, float, float] = (1.0, 2.0, 1.0)
    stage_learning_rates: tuple[float, float, float] = (2e-4, 2e-4, 2e-5)
    importance_batches: int = Field(8, ge=1)
    importance_max_length: int = Field(512, ge=16)
    importance_aggregate: Literal["sum", "mean"] = "sum"

    @model_validator(mode="after")
    def _top_k_fits(self) -> CITISettings:
        if self.top_k is not None and self.top_k > self.num_experts:
            raise ValueError(f"top_k ({self.top_k}) must be <= num_experts ({self.num_experts})")
        return self


class CompareSettings(BaseModel):
    """Shared knobs; every trained method sees the same examples, batch size, sequence length and epochs."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    epochs: float = Field(3.0, gt=0)
    adapter_lr: float = Field(2e-4, gt=0)
    full_lr: float = Field(2e-5, gt=0)
    lora_r: int = Field(8, ge=1)
    lora_alpha: float = Field(16.0, gt=0)
    batch_size: int = Field(4, ge=1)
    grad_accum: int = Field(1, ge=1)
    max_length: int = Field(512, ge=16)
    seed: int = Field(0, ge=0, le=SEED_MAX)
    bf16: bool = Field(False, description="bf16 autocast (mixed precision) in training")
    max_steps: int = Field(-1, description="stop each stage after this many optimizer steps (-1: by epochs)")
    eval_max_new_tokens: int = Field(64, ge=1)
    eval_batch_size: int = Field(8, ge=1)
    retention_windows: int = Field(8, ge=1)
    retention_window: int = Field(256, ge=16)
    cloze_items: int = Field(60, ge=1)
    citi: CITISettings = Field(default_factory=CITISettings)
