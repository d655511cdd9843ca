"""CITI's knobs and the comparison's, composed from the pieces that own them: the trainer's `TrainConfig`
and the adapters' `MoLoRAConfig` / `LoRAConfig` are held whole, never restated. Validated at the edge; errors
name the field.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tooltune.adapters import TARGET_MODULES, LoRAConfig, MoLoRAConfig
from tooltune.methods.citi.importance import Aggregate
from tooltune.train import TrainConfig

def citi_train_config(output_dir: str = ".") -> TrainConfig:
    """The training knobs of CITI's release where they differ from the trainer's: 3 epochs, lr 2e-4, cosine
    schedule with 10 % warm-up. `output_dir` is set per run."""
    return TrainConfig(output_dir=output_dir, epochs=3.0, learning_rate=2e-4, lr_scheduler="cosine", warmup_ratio=0.1,
                       logging_steps=5, save_total_limit=1)


class ImportanceConfig(BaseModel):
    """How component importance is scored: the paper's |theta^T dL/dtheta| over the data ("dot") or the sum
    (or mean) over a module of |theta * dL/dtheta| per batch. General importance is the normalised average over
    the general abilities: language modelling on calibration prose, and each set of general rows trained on."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    batches: int = Field(8, ge=1, description="batches of 2 rows per ability")
    max_length: int = Field(512, ge=16)
    aggregate: Aggregate = "dot"


class CITIConfig(BaseModel):
    """Defaults are the CITI release's: MoLoRA (4 experts + backbone route, rank 8, alpha 2, routing loss 0.01) on
    the top 20 % of components for tool use, 10 % of down_proj tuned in full at 2e-5; stages of 1 and 2 epochs
    (router alone, then router + experts) at the trainer's rate, then the fully tuned modules alone.

    The plan replaces `molora.target_modules` and `molora.full_tune_modules` by the module paths it picks."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    molora: MoLoRAConfig = Field(default_factory=lambda: MoLoRAConfig(target_modules=list(TARGET_MODULES)))
    top_fraction: float = Field(0.2, gt=0, le=1)
    full_fraction: float = Field(0.1, ge=0, le=1)
    full_kind: str = "down_proj"
    full_learning_rate: float = Field(2e-5, gt=0)
    stage_epochs: tuple[float, float, float] = (1.0, 2.0, 1.0)
    importance: ImportanceConfig = Field(default_factory=ImportanceConfig)

    @model_validator(mode="after")
    def _epochs_not_negative(self) -> CITIConfig:
        if any(e < 0 for e in self.stage_epochs) or not any(self.stage_epochs):
            raise ValueError(f"stage_epochs must be >= 0 with one > 0, got {self.stage_epochs}")
        return self


def default_lora() -> LoRAConfig:
    return LoRAConfig(target_modules=list(TARGET_MODULES), r=8, alpha=16.0)


class MethodTraining(BaseModel):
    """How each method of the comparison trains (shared with the agent recipe): one `TrainConfig` for all of
    them (LoRA and MoLoRA at its learning rate), the LoRA baseline's adapter, and CITI's config (full fine-tuning
    at CITI's `full_learning_rate`, the rate the release tunes whole modules at)."""

    model_config = ConfigDict(extra="forbid")

    train: TrainConfig = Field(default_factory=citi_train_config)
    lora: LoRAConfig = Field(default_factory=default_lora)
    citi: CITIConfig = Field(default_factory=CITIConfig)


class GeneralDataConfig(BaseModel):
    """General rows mixed into the tool data (for every trained method alike), and held-out general tasks.

    `share` 0.25: about one general row for every three tool rows, split equally over the sources (each CL
    benchmark training task, and replay), rounded up per source; enough for the router to see both kinds in most
    batches while the tool data keeps most of the steps."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    share: float = Field(0.25, ge=0, lt=1, description="share of general rows in the training mix")
    cl_root: str | None = Field(None, description="the CL benchmark folder (O-LoRA layout); None: replay only")
    train_tasks: tuple[str, ...] = ("TC/agnews", "SC/amazon")
    held_out_tasks: tuple[str, ...] = ("TC/dbpedia", "SC/yelp")
    replay: bool = True
    replay_max_new_tokens: int = Field(96, ge=1)

    @model_validator(mode="after")
    def _held_out_is_held_out(self) -> GeneralDataConfig:
        shared = sorted(set(self.train_tasks) & set(self.held_out_tasks))
        if shared:
            raise ValueError(f"held_out_tasks: {shared} are also training tasks")
        return self


class CompareSettings(BaseModel):
    """The comparison: how methods train, and how they are scored (the same held-out data for all)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    training: MethodTraining = Field(default_factory=MethodTraining)
    general: GeneralDataConfig = Field(default_factory=GeneralDataConfig)
    eval_max_new_tokens: int = Field(64, ge=1)
    eval_batch_size: int = Field(8, ge=1)
    retention_windows: int = Field(8, ge=1, description="windows of held-out prose per document")
    retention_window: int = Field(256, ge=16)
    cloze_items: int = Field(60, ge=1)
    task_items: int = Field(100, ge=0, description="zero-shot items per held-out general task (0: none)")
    eval_seed: int = Field(0, ge=0, description="draws the cloze and held-out task items; apart from the training "
                           "seed, so that every training seed is scored on the same items")
    bench_cases: list[str] = Field(default_factory=list, description="benchmark case ids each method also runs "
                                   "(the agent recipe's held-out cases; empty: no benchmark)")
