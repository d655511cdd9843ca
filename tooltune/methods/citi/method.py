"""CITI (Hao et al., AAAI 2025): inject tool use without losing general ability.

Plan from component importance: Mixture-of-LoRA on the top-p% components for tool use, full tuning of the
q% `down_proj` modules least important for general ability, everything else frozen. Three stages on the
shared trainer: MoLoRA (routers + experts), MoLoRA continued, then the fully tuned components alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from torch import nn

from tooltune.adapters import MoLoRAConfig, adapter_parameters, full_tune_module_names, inject_adapters, save_adapter
from tooltune.methods.citi.config import CITISettings
from tooltune.methods.citi.importance import (
    Aggregate,
    ImportanceScores,
    component_sort_key,
    compute_importance,
    load_importance,
    save_importance,
)
from tooltune.methods.citi.metrics import general_text
from tooltune.train import Stage, StageResult, TrainConfig, train_stages
from tooltune.atomic import write_json_atomic
from tooltune.train.data import Example


@dataclass
class CITIPlan:
    """Which components get MoLoRA, which are tuned in full; the rest stay frozen."""

    molora_modules: list[str]
    full_tune_modules: list[str]
    frozen_modules: list[str]

    def adapter_config(self, settings: CITISettings) -> MoLoRAConfig:
        return MoLoRAConfig(target_modules=list(self.molora_modules), full_tune_modules=list(self.full_tune_modules),
                            num_experts=settings.num_experts, r=settings.r, alpha=settings.alpha,
                            top_k=settings.top_k, balance_weight=settings.balance_weight)

    def to_dict(self) -> dict[str, list[str]]:
        return asdict(self)


def plan_citi(tool: ImportanceScores, general: ImportanceScores, top_fraction: float = 0.2,
              full_fraction: float = 0.1, full_kind: str = "down_proj") -> CITIPlan:
    """Top `top_fraction` of components by tool importance -> MoLoRA; the `full_fraction` of `full_kind`
    modules (outside the MoLoRA set) least important for general ability -> full tuning."""
    if set(tool.scores) != set(general.scores):
        raise ValueError("general: the two importance files score different components")
    ranked = tool.ranked()
    molora = ranked[:max(1, math.ceil(top_fraction * len(ranked)))]
    kind_total = len(general.ranked(full_kind))
    candidates = [n for n in reversed(general.ranked(full_kind)) if n not in molora]
    full = candidates[:round(full_fraction * kind_total)] if full_fraction > 0 else []
    chosen = set(molora) | set(full)
    return CITIPlan(sorted(molora, key=component_sort_key), sorted(full, key=component_sort_key),
                    [n for n in sorted(tool.scores, key=component_sort_key) if n not in chosen])


def general_rows(tokenizer: Any, count: int, length: int) -> list[dict[str, list[int]]]:
    """Language-modelling rows (all tokens labelled) from the calibration half of the general text."""
    ids = tokenizer(general_text("calibration"), add_special_tokens=False)["input_ids"]
    rows = [ids[i:i + length] for i in range(0, len(ids) - length + 1, length)][:count]
    return [{"input_ids": r, "labels": list(r), "attention_mask": [1] * len(r)} for r in rows]


IMPORTANCE_BATCH_SIZE = 2
GENERAL_WINDOW = 256
"""Tokens per row of general text scored for importance (at most the max length)."""


def ability_importance(model: nn.Module, tokenizer: Any, examples: Sequence[Example], ability: str, batches: int,
                       max_length: int, aggregate: Aggregate = "sum", general: bool = True) -> list[ImportanceScores]:
    """Importance for `ability` on `examples` and, with `general`, for general ability on calibration text."""
    common = {"batch_size": IMPORTANCE_BATCH_SIZE, "max_batches": batches, "aggregate": aggregate}
    scores = [compute_importance(model, tokenizer, examples, ability, max_length, **common)]
    if general:
        rows = general_rows(tokenizer, IMPORTANCE_BATCH_SIZE * batches, min(GENERAL_WINDOW, max_length))
        scores.append(compute_importance(model, tokenizer, rows, "general", max_length, **common))
    return scores


def citi_importance(model: nn.Module, tokenizer: Any, examples: Sequence[Example],
                    settings: CITISettings) -> tuple[ImportanceScores, ImportanceScores]:
    """Tool importance on the training conversations, general importance on calibration text."""
    tool, general = ability_importance(model, tokenizer, examples, "tool", settings.importance_batches,
                                       settings.importance_max_length, settings.importance_aggregate)
    return tool, general


def citi_stages(model: nn.Module, examples: Sequence[Example], settings: CITISettings) -> list[Stage]:
    """The three stages over a model that already holds the plan's MoLoRA + full-tune config."""
    experts = set(adapter_parameters(model, include_full_tune=False))
    full = set(full_tune_module_names(model))
    (e1, e2, e3), (lr1, lr2, lr3) = settings.stage_epochs, settings.stage_learning_rates
    stages = [Stage("molora", examples, epochs=e1, learning_rate=lr1, trainable=experts),
              Stage("molora-continue", examples, epochs=e2, learning_rate=lr2, trainable=experts)]
    if full and e3 > 0:
        stages.append(Stage("full-components", examples, epochs=e3, learning_rate=lr3, trainable=full))
    return [s for s in stages if s.epochs and s.epochs > 0]


@dataclass
class CITIResult:
    plan: CITIPlan
    stages: list[StageResult]
    adapter_dir: Path


def saved_importance(path: Path) -> tuple[ImportanceScores, ImportanceScores] | None:
    """The (tool, general) scores a started run saved; None when there are none or the file is damaged (they
    are then computed again, deterministically)."""
    try:
        loaded = load_importance(path)
        return loaded["tool"], loaded["general"]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def train_citi(model: nn.Module, tokenizer: Any, examples: Sequence[Example], config: TrainConfig,
               settings: CITISettings | None = None, importance: tuple[ImportanceScores, ImportanceScores] | None = None
               ) -> CITIResult:
    """Score, plan, inject and train CITI on `model` in place; the adapter lands in `output_dir/adapter`."""
    settings = settings or CITISettings()
    out = Path(config.output_dir)
    saved = out / "importance.json"
    if importance is None:  # a resumed run keeps the plan it started with
        importance = saved_importance(saved)
    tool, general = importance or citi_importance(model, tokenizer, examples, settings)
    save_importance([tool, general], saved)
    plan = plan_citi(tool, general, settings.top_fraction, settings.full_fraction, settings.full_kind)
    write_json_atomic(out / "plan.json", plan.to_dict())
    inject_adapters(model, plan.adapter_config(settings), seed=config.seed)
    results = train_stages(model, tokenizer, citi_stages(model, examples, settings), config)
    adapter_dir = save_adapter(model, out / "adapter", metadata={"method": "citi", **settings.model_dump()})
    return CITIResult(plan, results, adapter_dir)
