"""CITI (Hao et al., AAAI 2025): inject tool use without losing general ability.

Plan from component importance: Mixture-of-LoRA (router with a backbone route) on the top-p% components for
tool use, full tuning of the q% `down_proj` modules least important for general ability, everything else
frozen. Three stages on the shared trainer, over tool rows mixed with general rows: the routers alone (the
routing loss teaches them to send general input to the backbone), routers and experts, then the fully tuned
components alone.
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from torch import nn

from tooltune.adapters import MoLoRAConfig, adapter_parameters, full_tune_module_names, inject_adapters, save_adapter
from tooltune.adapters.molora import set_routing_labels
from tooltune.atomic import write_json_atomic
from tooltune.methods.citi.config import CITIConfig
from tooltune.methods.citi.data import SampleKinds
from tooltune.methods.citi.importance import (
    Aggregate,
    ImportanceScores,
    average_normalised,
    component_sort_key,
    compute_importance,
    load_importance,
    save_importance,
)
from tooltune.methods.citi.metrics import general_text
from tooltune.train import Stage, StageResult, TrainConfig, train_stages
from tooltune.train.data import Example


@dataclass
class CITIPlan:
    """Which components get MoLoRA, which are tuned in full; the rest stay frozen."""

    molora_modules: list[str]
    full_tune_modules: list[str]
    frozen_modules: list[str]

    def adapter_config(self, molora: MoLoRAConfig) -> MoLoRAConfig:
        """`molora` with the plan's modules."""
        return dataclasses.replace(molora, target_modules=list(self.molora_modules),
                                   full_tune_modules=list(self.full_tune_modules))

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
                       max_length: int, aggregate: Aggregate = "dot", general: bool = True,
                       general_sets: Mapping[str, Sequence[Example]] | None = None) -> list[ImportanceScores]:
    """Importance for `ability` on `examples` and, with `general`, for general ability: the normalised average
    of language modelling on calibration text and of each of `general_sets` (name -> rows)."""
    common = {"batch_size": IMPORTANCE_BATCH_SIZE, "max_batches": batches, "aggregate": aggregate}
    scores = [compute_importance(model, tokenizer, examples, ability, max_length, **common)]
    if general:
        text = general_rows(tokenizer, IMPORTANCE_BATCH_SIZE * batches, min(GENERAL_WINDOW, max_length))
        parts = [compute_importance(model, tokenizer, text, "text", max_length, **common)]
        parts += [compute_importance(model, tokenizer, rows, name, max_length, **common)
                  for name, rows in (general_sets or {}).items() if rows]
        scores.append(average_normalised(parts, "general"))
    return scores


def citi_stages(model: nn.Module, examples: Sequence[Example], citi: CITIConfig) -> list[Stage]:
    """The three stages over a model that already holds the plan's MoLoRA + full-tune config (stages of 0
    epochs, or a full-tuning stage without modules, are left out)."""
    experts = set(adapter_parameters(model, include_full_tune=False))
    routers = {name for name in experts if ".router." in name}
    full = set(full_tune_module_names(model))
    e1, e2, e3 = citi.stage_epochs
    stages = [Stage("router", examples, epochs=e1, trainable=routers),
              Stage("molora", examples, epochs=e2, trainable=experts)]
    if full:
        stages.append(Stage("full-components", examples, epochs=e3, learning_rate=citi.full_learning_rate,
                            trainable=full))
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


def mixed_rows(tool: Sequence[Example], general: Mapping[str, Sequence[Example]], seed: int = 0) -> list[Example]:
    """Tool rows and every general row, shuffled together (seeded): what each method of a comparison trains on."""
    rows = list(tool) + [row for rows in general.values() for row in rows]
    random.Random(seed).shuffle(rows)
    return rows


def train_citi(model: nn.Module, tokenizer: Any, tool: Sequence[Example], config: TrainConfig,
               citi: CITIConfig | None = None, general: Mapping[str, Sequence[Example]] | None = None,
               importance: tuple[ImportanceScores, ImportanceScores] | None = None) -> CITIResult:
    """Score, plan, inject and train CITI on `model` in place, on the tool rows mixed with `general` (name ->
    rows, each also a general ability of the importance); the adapter lands in `output_dir/adapter`."""
    citi = citi or CITIConfig()
    general = general or {}
    out = Path(config.output_dir)
    saved = out / "importance.json"
    if importance is None:  # a resumed run keeps the plan it started with
        importance = saved_importance(saved)
    if importance is None:
        knobs = citi.importance
        importance = tuple(ability_importance(model, tokenizer, tool, "tool", knobs.batches, knobs.max_length,
                                              knobs.aggregate, general_sets=general))
    tool_scores, general_scores = importance
    save_importance([tool_scores, general_scores], saved)
    plan = plan_citi(tool_scores, general_scores, citi.top_fraction, citi.full_fraction, citi.full_kind)
    write_json_atomic(out / "plan.json", plan.to_dict())
    inject_adapters(model, plan.adapter_config(citi.molora), seed=config.seed)
    labelled = [row for rows in general.values() for row in rows]
    handle = SampleKinds(tokenizer, tool, labelled, config.max_length).attach(model)
    try:
        results = train_stages(model, tokenizer, citi_stages(model, mixed_rows(tool, general, config.seed), citi),
                               config)
    finally:
        handle.remove()
        set_routing_labels(model, None)
    adapter_dir = save_adapter(model, out / "adapter", metadata={"method": "citi", **citi.model_dump()})
    return CITIResult(plan, results, adapter_dir)


def run_importance(data: Path, out: Path, model: str, ability: str = "tool", general: bool = True,
                   max_examples: int | None = None, batches: int = 8, max_length: int = 512,
                   aggregate: str = "dot") -> list[tuple[ImportanceScores, Path]]:
    """Score an ability's SFT file (and general ability) on a model spec; write the JSON at `out` and a heat map
    per ability beside it. Returns (scores, heat map path) per ability."""
    from tooltune.errors import RunFailure
    from tooltune.methods.citi.importance import AGGREGATES, heatmap_svg
    from tooltune.models.base import ModelError
    from tooltune.models.registry import load_trainable
    from tooltune.train.data import load_sft_jsonl
    from tooltune.train.settings import SettingsError, check_creatable

    if aggregate not in AGGREGATES:
        raise SettingsError(f"--aggregate: use one of {', '.join(AGGREGATES)}, got {aggregate!r}")
    examples = load_sft_jsonl(data)[:max_examples]
    check_creatable(out, directory=False)
    try:
        net, tokenizer = load_trainable(model)
    except ModelError as exc:
        raise RunFailure(f"--model: {exc}") from exc
    scores = ability_importance(net, tokenizer, examples, ability, batches, max_length, aggregate, general)  # type: ignore[arg-type]
    path = save_importance(scores, out)
    written = []
    for item in scores:
        svg = path.with_name(f"{path.stem}.{item.ability}.svg")
        svg.write_text(heatmap_svg(item))
        written.append((item, svg))
    return written
