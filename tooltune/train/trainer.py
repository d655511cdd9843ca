"""The one training loop: a `transformers.Trainer` that adds adapters' auxiliary losses, run as a sequence of
stages (each with its own data, epochs, learning rate and trainable set) that resumes exactly after an
interruption. Launch the same script with `accelerate launch` for DDP/FSDP/DeepSpeed; nothing here changes.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel, ConfigDict, Field
from safetensors.torch import load_file, save_file
from torch import nn
from transformers import Trainer, TrainerCallback, TrainingArguments
from transformers.trainer_utils import get_last_checkpoint

from tooltune.adapters.model import auxiliary_losses
from tooltune.atomic import read_json_object, write_atomic, write_json_atomic
from tooltune.train.data import Example, Formatter, PaddingCollator, encode_examples, pad_token_id
from tooltune.train.loss import accepts_logits_to_keep, next_token_mask, trained_token_loss
from tooltune.train.settings import RunDirError

DONE_MARKER = "stage_done.json"
STAGE_WEIGHTS = "stage_weights.safetensors"


class TrainConfig(BaseModel):
    """Knobs shared by all stages (a stage may override epochs and learning rate)."""

    model_config = ConfigDict(extra="forbid")

    output_dir: str
    epochs: float = Field(1.0, gt=0)
    learning_rate: float = Field(2e-4, gt=0)
    batch_size: int = Field(4, ge=1)
    grad_accum: int = Field(1, ge=1)
    max_length: int = Field(512, ge=8)
    seed: int = 0
    logging_steps: int = Field(10, ge=1)
    save_steps: int | None = Field(None, ge=1, description="checkpoint every N steps (None: once per epoch)")
    save_total_limit: int = Field(2, ge=1)
    warmup_steps: int = Field(0, ge=0)
    warmup_ratio: float = Field(0.0, ge=0, lt=1, description="warm-up as a share of a stage's steps (over "
                                "warmup_steps when > 0)")
    weight_decay: float = Field(0.0, ge=0)
    max_grad_norm: float = Field(1.0, gt=0)
    lr_scheduler: str = "linear"
    max_steps: int = Field(-1, description="stop each stage after this many optimizer steps (-1: by epochs)")
    gradient_checkpointing: bool = False
    bf16: bool = False
    keep_checkpoints: bool = Field(False, description="keep a finished stage's HF checkpoints on disk")
    disable_tqdm: bool | None = None


TrainableSpec = Callable[[str], bool] | set[str] | frozenset[str] | None


@dataclass
class Stage:
    """One phase of training. `trainable` picks parameters by name: a predicate, or a set of parameter or
    module names (a module name selects all its parameters); None keeps the current requires_grad flags."""

    name: str
    examples: Sequence[Example]
    epochs: float | None = None
    learning_rate: float | None = None
    trainable: TrainableSpec = None
    callbacks: list[TrainerCallback] = field(default_factory=list)
    max_steps: int | None = None
    formatter: Formatter | None = None


@dataclass
class StageResult:
    name: str
    directory: Path
    global_step: int
    train_loss: float | None
    resumed: bool
    skipped: bool
    trainable_parameters: int


class ToolTuneTrainer(Trainer):
    """HF Trainer whose loss is LM loss + the sum of `auxiliary_loss()` over the model's modules; the LM loss
    projects onto the vocabulary only the positions it trains (`train/loss.py`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("compute_loss_func", trained_token_loss)
        super().__init__(*args, **kwargs)
        self._aux_total = 0.0
        self._aux_count = 0
        self._head_on_trained_only = (self.compute_loss_func is trained_token_loss
                                      and accepts_logits_to_keep(self.accelerator.unwrap_model(self.model)))

    def compute_loss(self, model: nn.Module, inputs: dict[str, Any], return_outputs: bool = False,
                     num_items_in_batch: torch.Tensor | int | None = None) -> Any:
        if self._head_on_trained_only and "labels" in inputs:  # the vocabulary head only where the loss reads
            inputs = {**inputs, "logits_to_keep": next_token_mask(inputs["labels"])}
        loss, outputs = super().compute_loss(model, inputs, return_outputs=True, num_items_in_batch=num_items_in_batch)
        aux = auxiliary_losses(model) if model.training else None
        if aux is not None:
            self._aux_total += float(aux.detach())
            self._aux_count += 1
            scaled = self.loss_is_scaled_for_ga
            if scaled is None:  # normalised over the accumulated batch when the Trainer counted its tokens
                scaled = num_items_in_batch is not None and (
                    self.model_accepts_loss_kwargs or self.compute_loss_func is not None)
            # the LM loss is already a share of the accumulated batch; give the per-batch aux the same share
            loss = loss + (aux / getattr(self, "current_gradient_accumulation_steps", 1) if scaled else aux)
        return (loss, outputs) if return_outputs else loss

    def log(self, logs: dict[str, float], *args: Any, **kwargs: Any) -> None:
        if self._aux_count and "loss" in logs:
            logs["aux_loss"] = round(self._aux_total / self._aux_count, 6)
            self._aux_total, self._aux_count = 0.0, 0
        super().log(logs, *args, **kwargs)


def apply_trainable(model: nn.Module, spec: TrainableSpec) -> int:
    """Set requires_grad from a stage's `trainable` spec; return the number of trainable elements."""
    if spec is not None:
        if callable(spec):
            wanted = spec
        else:
            names = set(spec)
            def wanted(name: str) -> bool:  # noqa: E306
                return name in names or any(name.startswith(n + ".") for n in names)
        for name, param in model.named_parameters():
            param.requires_grad_(bool(wanted(name)))
    count = sum(p.numel() for p in model.parameters() if p.requires_grad)
    if count == 0:
        raise ValueError("trainable: the stage selects no parameter to train")
    return count


def training_arguments(config: TrainConfig, stage: Stage, directory: Path) -> TrainingArguments:
    """HF arguments for one stage (no external loggers, keep our own columns, save for exact resume)."""
    return TrainingArguments(
        output_dir=str(directory),
        per_device_train_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accum,
        num_train_epochs=stage.epochs if stage.epochs is not None else config.epochs,
        max_steps=stage.max_steps if stage.max_steps is not None else config.max_steps,
        learning_rate=stage.learning_rate if stage.learning_rate is not None else config.learning_rate,
        lr_scheduler_type=config.lr_scheduler,
        warmup_steps=config.warmup_ratio or config.warmup_steps,  # a float in (0, 1) is a ratio
        weight_decay=config.weight_decay,
        max_grad_norm=config.max_grad_norm,
        logging_steps=config.logging_steps,
        save_strategy="steps" if config.save_steps else "epoch",
        save_steps=config.save_steps or 500,
        save_total_limit=config.save_total_limit,
        seed=config.seed,
        data_seed=config.seed,
        activation_checkpointing=config.gradient_checkpointing,
        bf16=config.bf16,
        use_cpu=config.bf16 and not torch.cuda.is_available(),  # CPU bf16 autocast must be asked for explicitly
        report_to="none",
        remove_unused_columns=False,
        disable_tqdm=config.disable_tqdm,
        ddp_find_unused_parameters=False,
        dataloader_pin_memory=torch.cuda.is_available(),
    )


def trainable_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The current values of the trainable parameters (what a stage changed)."""
    return {n: p.detach().to("cpu").contiguous().clone() for n, p in model.named_parameters() if p.requires_grad}


def restore_state(model: nn.Module, path: Path, saved: dict[str, torch.Tensor] | None = None) -> None:
    """Copy saved parameter values (read from `path` unless given) back into the model (to replay a stage)."""
    saved = load_file(str(path)) if saved is None else saved
    params = dict(model.named_parameters())
    unknown = sorted(set(saved) - set(params))
    if unknown:
        raise RunDirError(f"{path} holds parameters the model does not have: {unknown[:5]}; it belongs to another "
                          "run (choose another output directory)")
    with torch.no_grad():
        for name, tensor in saved.items():
            params[name].copy_(tensor.to(device=params[name].device, dtype=params[name].dtype))


def finished_stage(directory: Path) -> dict[str, Any] | None:
    """The done marker of a finished stage, or None: a missing or half-written marker, or one without its
    weights, means the stage is not done and runs again (from its last checkpoint when there is one)."""
    info = read_json_object(directory / DONE_MARKER)
    if info is None or not isinstance(info.get("global_step"), int) or not (directory / STAGE_WEIGHTS).is_file():
        return None
    loss = info.get("train_loss")
    if loss is not None and not isinstance(loss, (int, float)):
        return None
    return info


def replay_stage(model: nn.Module, directory: Path) -> bool:
    """Load a finished stage's weights into `model`; False (model untouched) when the weights file is unreadable."""
    path = directory / STAGE_WEIGHTS
    try:
        saved = load_file(str(path))
    except Exception:  # noqa: BLE001 - safetensors raises its own error type for a damaged file
        return False
    restore_state(model, path, saved)
    return True


def train_stages(model: nn.Module, tokenizer: Any, stages: Sequence[Stage], config: TrainConfig) -> list[StageResult]:
    """Run the stages in order on `model` (in place), each from the previous one's weights.

    Layout: `output_dir/NN-name/` per stage with HF checkpoints while it runs, then `stage_weights.safetensors`
    and `stage_done.json`. Calling again after an interruption replays finished stages from their weights and
    resumes the running one from its last checkpoint (optimizer, scheduler, RNG and data order included).
    """
    if not stages:
        raise ValueError("stages: give at least one stage")
    root = Path(config.output_dir)
    results: list[StageResult] = []
    collator = PaddingCollator(pad_token_id(tokenizer))
    for index, stage in enumerate(stages):
        directory = root / f"{index:02d}-{stage.name}"
        count = apply_trainable(model, stage.trainable)
        done = directory / DONE_MARKER
        info = finished_stage(directory)
        if info is not None and replay_stage(model, directory):
            results.append(StageResult(stage.name, directory, info["global_step"], info.get("train_loss"),
                                       resumed=False, skipped=True, trainable_parameters=count))
            continue
        dataset = encode_examples(tokenizer, stage.examples, config.max_length, stage.formatter)
        args = training_arguments(config, stage, directory)
        trainer = ToolTuneTrainer(model=model, args=args, train_dataset=dataset, data_collator=collator,
                                  callbacks=list(stage.callbacks))
        checkpoint = get_last_checkpoint(str(directory)) if directory.is_dir() else None
        output = trainer.train(resume_from_checkpoint=checkpoint)
        loss = output.training_loss if math.isfinite(output.training_loss) else None
        trainer.accelerator.wait_for_everyone()  # every rank has finished writing its checkpoint files
        if trainer.is_world_process_zero():
            state = trainable_state(model)
            write_atomic(directory / STAGE_WEIGHTS, lambda temporary: save_file(state, str(temporary)))
            write_json_atomic(done, {"global_step": output.global_step, "train_loss": loss,
                                     "trainable_parameters": count, "examples": len(dataset)}, indent=None)
            if not config.keep_checkpoints:
                for old in directory.glob("checkpoint-*"):
                    shutil.rmtree(old, ignore_errors=True)
        trainer.accelerator.wait_for_everyone()
        results.append(StageResult(stage.name, directory, output.global_step, loss, resumed=checkpoint is not None,
                                   skipped=False, trainable_parameters=count))
    return results
