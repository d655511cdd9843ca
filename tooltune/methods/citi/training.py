"""Training one method of the comparison (base, LoRA, full fine-tuning, CITI) on tool rows mixed with general
rows, and where the trained model is found again (an adapter, or a saved checkpoint for full tuning). Shared by
the comparison and the agent recipe."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from torch import nn

from tooltune.adapters import inject_adapters, save_adapter
from tooltune.methods.citi.config import CITIConfig, MethodTraining
from tooltune.methods.citi.method import mixed_rows, train_citi
from tooltune.models.registry import TrainableLoader, load_trainable
from tooltune.train import Stage, train_stages
from tooltune.train.data import Example

METHODS = ("base", "lora", "full", "citi")
General = Mapping[str, Sequence[Example]]


def load_model_spec(spec: str) -> TrainableLoader:
    """A loader of fresh (model, tokenizer) pairs for any local model spec of `tooltune.models.registry`
    ("smollm2" or a checkpoint directory)."""
    return lambda: load_trainable(spec)


def citi_for(training: MethodTraining) -> CITIConfig:
    """CITI's config with its stage epochs scaled so its MoLoRA stages together get the trainer's epochs, like
    the other methods (the release's 1 + 2 of 3)."""
    e1, e2, e3 = training.citi.stage_epochs
    scale = training.train.epochs / (e1 + e2)
    importance = training.citi.importance.model_copy(update={"max_length": training.train.max_length})
    return training.citi.model_copy(update={"stage_epochs": (e1 * scale, e2 * scale, e3 * scale),
                                            "importance": importance})


def train_method(method: str, model: nn.Module, tokenizer: Any, train: Sequence[Example], out: Path,
                 training: MethodTraining, general: General | None = None) -> dict[str, Any]:
    """Train `model` in place with one method on the tool rows mixed with `general`; return facts about it."""
    general = general or {}
    config = training.train.model_copy(update={"output_dir": str(out)})
    rows = mixed_rows(train, general, config.seed)
    if method == "base":
        return {"trainable_parameters": 0}
    if method == "lora":
        inject_adapters(model, training.lora, seed=config.seed)
        results = train_stages(model, tokenizer, [Stage("lora", rows)], config)
        save_adapter(model, out / "adapter", metadata={"method": "lora"})
    elif method == "full":
        results = train_stages(model, tokenizer, [Stage("full", rows, trainable=lambda name: True)],
                               config.model_copy(update={"learning_rate": training.citi.full_learning_rate}))
    elif method == "citi":
        result = train_citi(model, tokenizer, train, config, citi_for(training), general)
        return {"trainable_parameters": max(s.trainable_parameters for s in result.stages),
                "train_loss": result.stages[-1].train_loss, "molora_modules": len(result.plan.molora_modules),
                "full_tune_modules": result.plan.full_tune_modules}
    else:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    return {"trainable_parameters": results[0].trainable_parameters, "train_loss": results[-1].train_loss}


def method_model(method: str, model: nn.Module, tokenizer: Any, out: Path, spec: str) -> tuple[str, str | None]:
    """(model spec, adapter dir or None) that loads `model` as `train_method` left it, for the benchmark: the
    spec itself for base, the saved adapter for LoRA and CITI, a checkpoint saved in `out/model` for full tuning."""
    if method == "base":
        return spec, None
    if method == "full":
        target = out / "model"
        model.save_pretrained(target)
        tokenizer.save_pretrained(target)
        return str(target), None
    return spec, str(out / "adapter")
